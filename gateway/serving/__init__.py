"""Running the gateway: one process (``server``), or N worker processes under a supervisor.

server      run_server(): uvicorn with the gateway's protocol limits, on a port or
            on a listening socket handed down by the supervisor
supervisor  ``gateway serve --workers N``: binds once, runs N workers, restarts the
            ones that die, stops them all on SIGTERM/SIGINT
worker      the worker process's entry point (``python -m gateway.serving.worker``)
collector   the garbage collector, paused during start-up (``uvicorn_server`` resumes it)
"""
