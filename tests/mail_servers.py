"""Real mail servers on loopback for the mail-protocol tests (a pytest plugin, see conftest.py).

* **Dovecot** serves IMAP and POP3, each on an implicit-TLS listener and a STARTTLS
  listener. Users live in a passwd-file; SASL PLAIN and LOGIN are offered only once TLS
  is up (``disable_plaintext_auth = yes``); ``imap_id_log = *`` writes the IMAP ``ID``
  a client sends to the Dovecot log. Its auth socket serves Postfix.
* **Postfix** serves submission with STARTTLS and with implicit TLS, authenticates
  through Dovecot's auth socket, offers ``AUTH`` only after TLS, relays nothing and
  accepts nothing (every recipient is refused, authenticated or not).

Both listen on :data:`MAIL_HOST` (127.0.0.25) and high, free ports (never a standard port); the
:attr:`MailServers.port_map` maps each standard port to its test port. The certificate
comes from a ``trustme`` CA and covers the test domain :data:`DOMAIN` and the host
names a guessing client tries (``imap.``, ``mail.``, ``pop3.``, ``pop.``, ``smtp.``)
plus 127.0.0.25 and 127.0.0.1; :func:`mail_servers_factory` starts a set whose certificate also
covers more names.

Configurations, mail, queues and logs live in a fresh 0755 directory under the system
temporary directory (pytest's own is 0700, which the unprivileged mail processes could
not enter) that is removed afterwards. As root, Dovecot's mail processes run as the
``mail`` user and Postfix's as ``postfix``. Nothing is left running after the session.

A missing server binary fails the tests that need it, with the install command.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.resolver
import pytest
import trustme
from dns_servers import Dnsmasq

from mailsettings import Provider

LOOPBACK = "127.0.0.1"
MAIL_HOST = "127.0.0.25"
"""The address both servers listen on. Not 127.0.0.1, where clients connect from:
Dovecot treats a connection whose two ends have the same address as secure and would
offer password logins before TLS."""
DOMAIN = "guess.test"
"""The test domain: the certificate covers it and its usual mail host names."""
HOST_PREFIXES = ("imap", "mail", "pop3", "pop", "smtp")

INSTALL_HINT = (
    "{what} is not installed: the mail-protocol tests need Debian's Dovecot and Postfix "
    "(run `apt-get install dovecot-imapd dovecot-pop3d postfix`; .ci/run installs them)."
)
DOVECOT = "/usr/sbin/dovecot"
POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
START_TIMEOUT = 20.0

STANDARD_PORTS = {
    ("imap", "ssl"): 993,
    ("imap", "starttls"): 143,
    ("pop3", "ssl"): 995,
    ("pop3", "starttls"): 110,
    ("smtp", "ssl"): 465,
    ("smtp", "starttls"): 587,
}
"""(protocol, security) -> the standard port a client would use."""
SERVER_HOSTS = {"imap": f"imap.{DOMAIN}", "pop3": f"pop.{DOMAIN}", "smtp": f"smtp.{DOMAIN}"}
"""protocol -> the host name :func:`domain_provider` lists for it."""


@dataclass(frozen=True)
class MailUser:
    """An account on the test servers."""

    address: str
    login: str
    """The name the servers accept: the full address or the local part only."""
    password: str = field(repr=False)


USERS = (
    MailUser("alice@guess.test", "alice@guess.test", "alice-Secret-1"),
    MailUser("bob@guess.test", "bob", "bob-Secret-2"),
    MailUser("carol@guess.test", "carol@guess.test", "pässwörd-密码-3"),
)
"""Alice logs in with her address, Bob with his local part only; Carol's password is not
ASCII (SASL PLAIN sends it in UTF-8; IMAP's ``LOGIN`` command cannot carry it)."""


def domain_provider(security: str = "ssl", **extra: Any) -> Provider:
    """A provider for :data:`DOMAIN`: IMAP, POP3 and SMTP at :data:`SERVER_HOSTS` on the
    standard ports for ``security`` (``MailServers.port_map`` leads them to the test ports)."""
    return Provider.model_validate(
        {
            "id": DOMAIN,
            "name": "Guess Test Mail",
            "domains": [DOMAIN],
            "servers": [
                {
                    "protocol": protocol,
                    "host": host,
                    "port": STANDARD_PORTS[protocol, security],
                    "security": security,
                }
                for protocol, host in SERVER_HOSTS.items()
            ],
            **extra,
        }
    )


def mail_host_names(domain: str = DOMAIN) -> tuple[str, ...]:
    """The domain and the host names a guessing client tries for it."""
    return (domain, *(f"{prefix}.{domain}" for prefix in HOST_PREFIXES))


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on :data:`MAIL_HOST` (all above 1024)."""
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((MAIL_HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def require_binary(path: str, what: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.fail(INSTALL_HINT.format(what=what), pytrace=False)
    return path


@dataclass
class MailServers:
    """A running Dovecot and Postfix pair, what a test needs to reach them."""

    host: str
    """The address every listener is bound to (:data:`MAIL_HOST`)."""
    domain: str
    """The test domain whose host names the certificate covers."""
    host_names: tuple[str, ...]
    """Every name the server certificate covers (127.0.0.1 aside)."""
    ports: dict[tuple[str, str], int]
    """(protocol, security) -> test port, e.g. ``("imap", "ssl") -> 41993``."""
    users: tuple[MailUser, ...]
    ca: trustme.CA
    root: Path
    """The instance directory (configs, mail, queue, logs)."""
    dovecot_log: Path
    postfix_log: Path
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def port_map(self) -> dict[int, int]:
        """Standard port -> test port (993, 143, 995, 110, 465, 587)."""
        return {STANDARD_PORTS[key]: port for key, port in self.ports.items()}

    def port(self, protocol: str, security: str) -> int:
        """The test port for ``protocol`` (imap, pop3, smtp) and ``security`` (ssl, starttls)."""
        return self.ports[(protocol, security)]

    @property
    def full_address_user(self) -> MailUser:
        """The user whose login name is the full address."""
        return USERS[0]

    @property
    def local_part_user(self) -> MailUser:
        """The user whose login name is the local part only."""
        return USERS[1]

    @property
    def utf8_user(self) -> MailUser:
        """The user whose password is not ASCII."""
        return USERS[2]

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the test CA only."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(context)
        return context

    def network(self, resolver: dns.resolver.Resolver, **extra: Any) -> dict[str, Any]:
        """The options that reach these servers: names through ``resolver``, the test CA
        trusted, private addresses allowed, standard ports mapped to the test ports."""
        return {
            "ssl_context": self.client_context(),
            "resolver": resolver,
            "allow_private_networks": True,
            "port_map": self.port_map,
            **extra,
        }

    def dovecot_log_text(self) -> str:
        return self.dovecot_log.read_text(encoding="utf-8", errors="replace")

    def postfix_log_text(self) -> str:
        return self.postfix_log.read_text(encoding="utf-8", errors="replace")

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop both servers and their children (idempotent), remove the instance directory."""
        children = [pid for process in self._processes for pid in _descendants(process.pid)]
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._processes.clear()
        _wait_gone(children)
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        children = parents.get(pending.pop(), [])
        found.extend(children)
        pending.extend(children)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pids: list[int], timeout: float = 5.0) -> None:
    """Wait until the processes have exited; kill those that have not by then."""
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _running(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# --- configuration ----------------------------------------------------------------------


def _accounts() -> tuple[int, int, str, str]:
    """(mail uid, mail gid, Dovecot's internal user, its login user)."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("mail")
        return mail.pw_uid, mail.pw_gid, "dovecot", "dovenull"
    user = pwd.getpwuid(os.geteuid()).pw_name
    return os.geteuid(), os.getegid(), user, user


def dovecot_config(root: Path, ports: dict[tuple[str, str], int]) -> str:
    uid, gid, internal_user, login_user = _accounts()
    return f"""\
# A private Dovecot instance for the mailsettings tests.
instance_name = mailsettings-test-{os.getpid()}-{root.name}
base_dir = {root}/dovecot/run
state_dir = {root}/dovecot/state
protocols = imap pop3
listen = {MAIL_HOST}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {internal_user}
default_login_user = {login_user}
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_max_userip_connections = 1000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/dovecot/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
protocol imap {{
  imap_id_log = *
  mail_max_userip_connections = 1000
}}
protocol pop3 {{
  mail_max_userip_connections = 1000
}}
service imap-login {{
  inet_listener imap {{
    address = {MAIL_HOST}
    port = {ports["imap", "starttls"]}
  }}
  inet_listener imaps {{
    address = {MAIL_HOST}
    port = {ports["imap", "ssl"]}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {MAIL_HOST}
    port = {ports["pop3", "starttls"]}
  }}
  inet_listener pop3s {{
    address = {MAIL_HOST}
    port = {ports["pop3", "ssl"]}
    ssl = yes
  }}
}}
service anvil {{
  # no growing delay after failed logins from one address (Dovecot's auth penalty)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {root}/dovecot/auth-postfix {{
    mode = 0666
  }}
}}
"""


def dovecot_users() -> str:
    return "".join(f"{user.login}:{{PLAIN}}{user.password}::::::\n" for user in USERS)


def postfix_main_cf(root: Path) -> str:
    return f"""\
# A private Postfix instance for the mailsettings tests: submission only, no delivery.
compatibility_level = 3.6
queue_directory = {root}/postfix/queue
data_directory = {root}/postfix/data
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = $mydomain
mydestination =
relay_domains =
mynetworks = 127.0.0.1/32
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:this test server delivers nothing
default_transport = error:this test server delivers nothing
biff = no
smtpd_banner = $myhostname ESMTP
smtpd_relay_restrictions = reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_tls_chain_files = {root}/tls/key-and-chain.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {root}/dovecot/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
"""


def postfix_master_cf(ports: dict[tuple[str, str], int]) -> str:
    submission = f"{MAIL_HOST}:{ports['smtp', 'starttls']}"
    submissions = f"{MAIL_HOST}:{ports['smtp', 'ssl']}"
    return f"""\
# service type  private unpriv  chroot  wakeup  maxproc command
{submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
{submissions} inet n - n - - smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


POSTFIX_QUEUE_DIRS = {
    # name: (owner is the mail owner, group is postdrop, mode), as in Postfix's postfix-files
    "active": (True, False, 0o700),
    "bounce": (True, False, 0o700),
    "corrupt": (True, False, 0o700),
    "defer": (True, False, 0o700),
    "deferred": (True, False, 0o700),
    "flush": (True, False, 0o700),
    "hold": (True, False, 0o700),
    "incoming": (True, False, 0o700),
    "private": (True, False, 0o700),
    "saved": (True, False, 0o700),
    "trace": (True, False, 0o700),
    "maildrop": (True, True, 0o730),
    "public": (True, True, 0o710),
    "pid": (False, False, 0o755),
}


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _make_postfix_tree(root: Path) -> None:
    postfix = pwd.getpwnam("postfix")
    postdrop_gid = _group_id("postdrop")
    queue = root / "postfix" / "queue"
    queue.mkdir(parents=True, mode=0o755)
    for name, (mail_owner, setgid_group, mode) in POSTFIX_QUEUE_DIRS.items():
        path = queue / name
        path.mkdir(mode=mode)
        os.chown(path, postfix.pw_uid if mail_owner else 0, postdrop_gid if setgid_group else -1)
        path.chmod(mode)
    data = root / "postfix" / "data"
    data.mkdir(mode=0o700)
    os.chown(data, postfix.pw_uid, postfix.pw_gid)


def _group_id(name: str) -> int:
    import grp

    return grp.getgrnam(name).gr_gid


# --- start and readiness -------------------------------------------------------------------


def _greets(port: int, tls: ssl.SSLContext | None, expected: bytes) -> bool:
    """Whether the listener answers with a greeting starting with ``expected``."""
    try:
        with socket.create_connection((MAIL_HOST, port), timeout=2) as raw:
            sock: socket.socket = raw
            if tls is not None:
                sock = tls.wrap_socket(raw, server_hostname=DOMAIN)
            try:
                return sock.recv(512).startswith(expected)
            finally:
                if sock is not raw:
                    sock.close()
    except OSError:
        return False


def _wait_ready(servers: MailServers, names: dict[str, subprocess.Popen[bytes]]) -> None:
    context = servers.client_context()
    expected = {"imap": b"* OK", "pop3": b"+OK", "smtp": b"220"}
    pending = dict(servers.ports)
    deadline = time.monotonic() + START_TIMEOUT
    while pending and time.monotonic() < deadline:
        for name, process in names.items():
            if process.poll() is not None:
                servers.stop(keep_files=True)
                pytest.fail(
                    f"{name} exited with status {process.returncode}; its configuration and "
                    f"logs are kept in {servers.root}",
                    pytrace=False,
                )
        for key, port in list(pending.items()):
            tls = context if key[1] == "ssl" else None
            if _greets(port, tls, expected[key[0]]):
                del pending[key]
        if pending:
            time.sleep(0.1)
    if pending:
        logs = "\n".join(
            path.read_text(errors="replace")[-3000:]
            for path in (servers.dovecot_log, servers.postfix_log)
            if path.exists()
        )
        servers.stop()
        pytest.fail(
            f"no greeting within {START_TIMEOUT} s on {sorted(pending)}:\n{logs}", pytrace=False
        )


def start_mail_servers(extra_names: Sequence[str] = ()) -> MailServers:
    """Write the configurations, start Dovecot and Postfix, wait for every greeting."""
    dovecot = require_binary(DOVECOT, "Dovecot")
    require_binary("/usr/lib/dovecot/imap", "Dovecot's IMAP server")
    require_binary("/usr/lib/dovecot/pop3", "Dovecot's POP3 server")
    master = require_binary(POSTFIX_MASTER, "Postfix")
    if os.geteuid() != 0:
        pytest.fail(
            "the Postfix test server must be started as root (as .ci/run runs)", pytrace=False
        )

    root = Path(tempfile.mkdtemp(prefix="mailsettings-mail-"))
    root.chmod(0o755)
    uid, gid, _, _ = _accounts()
    ports = dict(zip(STANDARD_PORTS, free_ports(len(STANDARD_PORTS)), strict=True))
    names = (*mail_host_names(), *extra_names)
    ca = trustme.CA()
    certificate = ca.issue_cert(*names, MAIL_HOST, LOOPBACK)
    servers = MailServers(
        host=MAIL_HOST,
        domain=DOMAIN,
        host_names=tuple(dict.fromkeys(names)),
        ports=ports,
        users=USERS,
        ca=ca,
        root=root,
        dovecot_log=root / "dovecot.log",
        postfix_log=root / "postfix.log",
    )
    try:
        tls = root / "tls"
        tls.mkdir(mode=0o755)
        certificate.private_key_pem.write_to_path(str(tls / "key.pem"))
        certificate.cert_chain_pems[0].write_to_path(str(tls / "cert.pem"))
        for pem in certificate.cert_chain_pems[1:]:
            pem.write_to_path(str(tls / "cert.pem"), append=True)
        certificate.private_key_and_cert_chain_pem.write_to_path(str(tls / "key-and-chain.pem"))
        for path in tls.iterdir():
            path.chmod(0o644)

        for folder in ("dovecot", "dovecot/run", "dovecot/state", "postfix"):
            (root / folder).mkdir(mode=0o755)
        home = root / "home"
        home.mkdir(mode=0o755)
        os.chown(home, uid, gid)
        _write(root / "dovecot" / "dovecot.conf", dovecot_config(root, ports))
        _write(root / "dovecot" / "users", dovecot_users(), 0o644)
        for log in (servers.dovecot_log, servers.postfix_log):
            log.touch(mode=0o644)

        _make_postfix_tree(root)
        config = root / "postfix" / "config"
        config.mkdir(mode=0o755)
        _write(config / "main.cf", postfix_main_cf(root))
        _write(config / "master.cf", postfix_master_cf(ports))

        processes = {
            "dovecot": subprocess.Popen(
                [dovecot, "-F", "-c", str(root / "dovecot" / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
            ),
        }
        servers._processes.append(processes["dovecot"])
        # Postfix's master in the foreground (-d): no postfix-script, no system instance.
        processes["postfix"] = subprocess.Popen(
            [master, "-d", "-c", str(config)], stdin=subprocess.DEVNULL
        )
        servers._processes.append(processes["postfix"])
    except BaseException:
        servers.stop()
        raise
    _wait_ready(servers, processes)
    return servers


# --- fixtures (registered in conftest.py) -------------------------------------------------


MailServersFactory = Callable[..., MailServers]


@pytest.fixture(scope="session")
def mail_servers_factory() -> Iterator[MailServersFactory]:
    """Start (once per set of extra host names) a Dovecot and Postfix pair.

    ``mail_servers_factory("imap.other.test")`` returns servers whose certificate also
    covers ``imap.other.test``; every pair is stopped at the end of the session.
    """
    started: dict[tuple[str, ...], MailServers] = {}

    def start(*extra_names: str) -> MailServers:
        key = tuple(sorted(set(extra_names)))
        if key not in started:
            started[key] = start_mail_servers(key)
        return started[key]

    yield start
    for servers in started.values():
        with contextlib.suppress(Exception):
            servers.stop()


@pytest.fixture(scope="session")
def mail_servers(mail_servers_factory: MailServersFactory) -> MailServers:
    """Dovecot and Postfix on :data:`MAIL_HOST` for the test domain :data:`DOMAIN`."""
    return mail_servers_factory()


@pytest.fixture(scope="session")
def mail_names() -> Iterator[Dnsmasq]:
    """dnsmasq: the test domain's names at Dovecot/Postfix, ``hostile.test`` at the hostile
    servers (127.0.0.1, tests/hostile_mail_servers.py)."""
    names = Dnsmasq([f"--address=/{DOMAIN}/{MAIL_HOST}", f"--address=/hostile.test/{LOOPBACK}"])
    yield names
    names.stop()
