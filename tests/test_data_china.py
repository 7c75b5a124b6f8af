"""Rules for the Chinese-language entries: Chinese text, password guidance, alternative hosts."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mailsettings import Protocol, lookup
from mailsettings.data import load_bundled
from mailsettings.models import InstructionKind, PasswordKind, Provider

CHINESE = tuple(p for p in load_bundled() if p.country in ("CN", "HK", "TW"))
PASSWORD_STEP = {
    PasswordKind.AUTHORIZATION_CODE: InstructionKind.AUTHORIZATION_CODE,
    PasswordKind.APP_PASSWORD: InstructionKind.APP_PASSWORD,
}


def _chinese(texts: Mapping[str, str]) -> bool:
    return any(tag.startswith("zh-") for tag in texts)


@pytest.mark.parametrize("provider", CHINESE, ids=lambda p: p.id)
def test_chinese_entries_speak_chinese(provider: Provider) -> None:
    assert _chinese(provider.localized_names), "a Chinese name (zh-CN, zh-TW or zh-HK)"
    for step in provider.instructions:
        assert _chinese(step.localized), f"instruction {step.kind.value} has no Chinese text"


@pytest.mark.parametrize("provider", CHINESE, ids=lambda p: p.id)
def test_a_special_password_comes_with_the_steps_to_get_it(provider: Provider) -> None:
    needed = PASSWORD_STEP.get(provider.password)
    if needed is not None:
        assert needed in {step.kind for step in provider.instructions}


def test_netease_qiye_prefers_the_recommended_hosts_and_keeps_the_backups() -> None:
    qiye = next(p for p in CHINESE if p.id == "qiye.163.com")
    for protocol, recommended, backup in (
        (Protocol.IMAP, "hwhzimap.qiye.163.com", "imap.qiye.163.com"),
        (Protocol.SMTP, "hwhzsmtp.qiye.163.com", "smtp.qiye.163.com"),
    ):
        servers = qiye.servers_for(protocol)
        assert servers[0].host == recommended
        assert backup in {s.host for s in servers if not s.legacy}
        assert all(s.note for s in servers if s.host in (recommended, backup))


def test_exmail_lists_the_overseas_host_after_the_mainland_one() -> None:
    result = lookup("someone@sustech.edu.cn")
    assert result.imap is not None and result.imap.host == "imap.exmail.qq.com"
    overseas = [s for s in result.servers if s.host == "hwimap.exmail.qq.com"]
    assert overseas and overseas[0].note and "outside mainland China" in overseas[0].note
