"""From settings to a working mailbox: probe servers, verify credentials, open connections.

* :mod:`~mailsettings.access.probe` — what a server is (reachable, TLS, certificate,
  greeting, capabilities), without credentials;
* :mod:`~mailsettings.access.verify` — whether credentials work, per protocol;
* :mod:`~mailsettings.access.stdlib` — logged-in ``imaplib``, ``poplib`` and ``smtplib``
  objects;
* :mod:`~mailsettings.access.django` — Django's ``EMAIL_*`` settings;
* :mod:`~mailsettings.access.credentials` — the rules every one of them shares: which
  login names to try, what a refused login means, when to send IMAP ``ID``.

Nothing here runs during a plain lookup; every function is imported on first use.
"""
