"""The upload scan's pattern lane, end to end under the default policy's thresholds, on
identifiers written in the forms that hid them: three digit groups, keys written tight
or abbreviated, dial links, escapes, and numbers only their label names."""

import pytest

from tests.bench.bench_pii_identifiers import refusals, thresholds

MINIMUM = thresholds()


@pytest.mark.parametrize(
    "line",
    [
        "Tel:+34 612 345 678",
        "Móvil: 612 345 678",
        "Anna|Smith|tel:612 345 678|Leeds",
        "Teléfono de contacto: 912 345 678",
        '{"phone_number": "612 345 678", "ssn": "536228726"}',
        "Tel.:07911 123456",
        "Mob.07911 123456",
        "tel2:+14155552671",
        "Anna:07911 123456",
        "Chat with me: https://wa.me/447911123456?text=Hi",
        "https://example.com/callback?phone=%2B447911123456",
        '{"note": "call Anna on 07911\\u00a0123456"}',
        '{"note": "call Anna on \\u002B44 7911 123456"}',
        "<p>Call &#43;44&nbsp;7911&nbsp;123456</p>",
        "SSN: 536228726",
        "Passport number: 912803456",
        "Driver's license: D1234567",
        "我的社会安全号码是536-22-8726\uff0c请保密。",
        "NHS番号943 476 5919です。",
        "请发邮件到anna.li@example-mail.de谢谢",
        "주민번호는 536-22-8726입니다",
        "Please pay de89 3704 0044 0532 0130 00 by Friday.",
        "SSN: 536 22 8726",
        "Passport: 912 803 456",
        "Name: Ana Ruiz, Mobile: 612345678",
        '{"whatsapp": "612345678"}',
        "Her cell is 612345678.",
        "Pay de89-3704-0044-0532-0130-00 by Friday.",
    ],
)
async def test_a_personal_identifier_in_a_hiding_form_is_refused(line: str) -> None:
    share, _ = await refusals([line], MINIMUM)
    assert share == 100.0


@pytest.mark.parametrize(
    "line",
    [
        "Revenue rose 20% in R&D; 100%zz &amp; more",
        "ticket:2024-118934 build=06260181590 user_id=3601815908",
        "graph:0301234567 version:10.0.19041.1",
        "The security patch fixed 536228726 requests from our social media reach.",
        "GET /api/v2/items/4029183901?expand=1&page=2%20",
        "Revenue: 612 345 678 EUR; downloads 712.345.678; Q1 Q2 Q3: 612 345 678",
        "Le budget atteint 912 345 678 € cette année.",
        "Monthly API calls: 612 345 678; the text has 712 345 678 tokens; calls=612 345 678",
        "版本3.2.1已发布\uff0c提交a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0已合并。",
        "ビルド612345678を2024-03-01にデプロイしました。",
        "Mobile: 612345678 sessions; WhatsApp: 712345678 (41%)",
        '{"mobile": 61234567}',
        "Mobile: 61234567",
        "Sessions by device\nMobile: 83817924\nDesktop: 735068488",
        "traffic:\n  fax: 853411312\n  desktop: 62309938",
        "- Cell: 804429053",
        "Cell: 449817264次; WhatsApp: 712345678条消息",
        "iPhone共530960524台; iPhone은 508384189대 판매",
        "Passport共211022144台; SSN은 838417235대 판매",
        "Driving licence;5269777;310\nPassport;238530350;840",
        "Driver's license: 405 381 728; Passport: 410 597 043 kr",
        "request id ee40lel5bxf7qreocuck done",
        "trace_id=de893704004405320130000000000000 span_id=be12f3a4b5c6d7e8",
    ],
)
async def test_ordinary_numbers_near_keys_words_and_escapes_are_not_refused(line: str) -> None:
    share, types = await refusals([line], MINIMUM)
    assert share == 0.0, types
