import pytest

from gateway.pii.labelled_ids import LABELLED_SCORE, find_labelled_ids


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("SSN: 536228726", "US_SSN", "536228726"),
        ("ssn#536228726", "US_SSN", "536228726"),
        ("Her Social Security No. 536228726 is on file", "US_SSN", "536228726"),
        ("social security number is 536228726.", "US_SSN", "536228726"),
        ("Passport: 912803456", "US_PASSPORT", "912803456"),
        ("passport number C03005988 (renewed)", "US_PASSPORT", "C03005988"),
        ("Driver's license: D1234567", "US_DRIVER_LICENSE", "D1234567"),
        ("driving licence no. MORGA753116SM9IJ", "US_DRIVER_LICENSE", "MORGA753116SM9IJ"),
        ("DL# A123-456-78-901-0 expires", "US_DRIVER_LICENSE", "A123-456-78-901-0"),
        ('{"ssn": "536228726"}', "US_SSN", "536228726"),
        ('{"passport_number":"912803456"}', "US_PASSPORT", "912803456"),
        ("SocialSecurityNumber=536228726", "US_SSN", "536228726"),
        ("| SSN | 536228726 |", "US_SSN", "536228726"),
        ("ssn,536228726,Leeds", "US_SSN", "536228726"),
        ("SS No. 536228726", "US_SSN", "536228726"),
        ("passport: a12345678", "US_PASSPORT", "a12345678"),
        ("SSN/TIN: 536228726", "US_SSN", "536228726"),
        ("TIN/SSN 536228726", "US_SSN", "536228726"),
        ("SSN or TIN: 536228726", "US_SSN", "536228726"),
        ("Passport #X12803456", "US_PASSPORT", "X12803456"),
        ("Bank account number: 123456789012", "US_BANK_NUMBER", "123456789012"),
        ("Checking acct #12345678", "US_BANK_NUMBER", "12345678"),
        ("A/C No: 123456789", "US_BANK_NUMBER", "123456789"),
        ("Refund to checking acct 40012345678 please.", "US_BANK_NUMBER", "40012345678"),
        ("Social Security Number (SSN): 536228726", "US_SSN", "536228726"),
        ("SSN536-22-8726", "US_SSN", "536-22-8726"),
        ("Bank account: 12345678.", "US_BANK_NUMBER", "12345678"),
        ("savings account no. 1234567890", "US_BANK_NUMBER", "1234567890"),
        ("Acct. no.: 1234567890", "US_BANK_NUMBER", "1234567890"),
        ('{"bank_account": "1234567890"}', "US_BANK_NUMBER", "1234567890"),
        ("bankAccountNumber=1234567890", "US_BANK_NUMBER", "1234567890"),
        ("SSN: 536 22 8726", "US_SSN", "536 22 8726"),
        ("Passport: 912 803 456", "US_PASSPORT", "912 803 456"),
        ("passport number is 912 803 456.", "US_PASSPORT", "912 803 456"),
    ],
)
def test_a_number_right_after_its_label_is_that_identifier(
    text: str, kind: str, value: str
) -> None:
    """An SSN's, passport's or driver's licence's number right after its label, on the
    same line."""
    (span,) = find_labelled_ids(text)
    assert (span["type"], text[span["start"] : span["end"]]) == (kind, value)
    assert span["score"] == LABELLED_SCORE


@pytest.mark.parametrize(
    "text",
    [
        "The security patch fixed 536228726 requests",
        "Our social media reach was 536228726 people",
        "SSN:\n536228726",
        "SSN: 000123456",
        "SSN: 666123456",
        "SSN: 123456789",
        "SSN: 5362287261",
        "ssn-536228726-backup.tar",
        "passport photo 91280345",
        "the passports 912803456",
        "Class no. 536228726",
        "driver's license is valid until 2027",
        "driver license class C12",
        "TIN: 536228726",
        "Customer 1234567890 and account 99887766 were merged",
        "acct mgr 12345678",
        "Bank account 1234567",
        "Bank account 123456789012345678",
        "bank account ref AB-12345678",
        "Savings Account,20240131,1500.00",
        "Checking Account,12500000,USD",
        "savings account 20000000 dollars",
        "checking account, 20240101",
        "Acct: 12345678",
        "Total passports: 145000000",
        "Passports|128000000",
        "Savings account: 25000000.00",
        "savings acct 20000000 dollars",
        "savings account 20000000",
        "Savings account: 10000000 EUR",
        "checking account: 10000000 dollars",
        "SSN: 536-228726",
        "SSN: 536 22-8726",
        "SSN: 536 228 726",
        "Passport: 912 803 456 EUR",
        "Total passports: 145 000 000",
        "Passport: 410 597 043 kr",
        "Passport: 967 873 551 INR",
        "Driver's license: 405 381 728",
        "Driving licence;5269777;310",
        "Passport;238530350;840",
        "SSN;536228726;Leeds",
    ],
)
def test_other_words_lines_or_numbers_are_not_labelled_ids(text: str) -> None:
    """A context word that is no label, a label on another line, numbers the SSA never
    issues or a published sample, and numbers of another length are not found."""
    assert find_labelled_ids(text) == []


def test_only_the_asked_kinds_are_found() -> None:
    text = "SSN: 536228726, passport: 912803456"
    assert [s["type"] for s in find_labelled_ids(text, frozenset({"US_PASSPORT"}))] == [
        "US_PASSPORT"
    ]
