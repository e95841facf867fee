"""A mail server for the failure tests, on 127.0.0.1: it keeps every message it accepts and, told to, takes
a message and then never answers the sender's QUIT, holding it at the moment after acceptance, where the
test kills the sending worker."""

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class MailServer:
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    hold_after_accepting: bool = False
    accepted: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class _Session(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        server: MailServer = self.server.mail  # type: ignore[attr-defined]
        sender, recipients = "", []
        self.reply("220 localhost ESMTP test")
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb in {"EHLO", "HELO"}:
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, recipients = command[10:].strip("<> "), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command[8:].strip("<> "))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                server.messages.append(Received(sender, recipients, data))
                self.reply("250 OK: queued")
                server.accepted.set()
            elif verb == "QUIT":
                if server.hold_after_accepting and server.accepted.is_set():
                    server.released.wait(timeout=180)  # no answer: the sender waits here
                    return
                self.reply("221 Bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def running_mail_server() -> Iterator[MailServer]:
    mail = MailServer()
    server = _Server(("127.0.0.1", 0), _Session)
    server.mail = mail
    mail.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mail
    finally:
        mail.released.set()
        server.shutdown()
        server.server_close()
