#!/usr/bin/env python3
"""Write a small, realistic Postfix syslog sample to stdout.
Usage: gen_log.py [SEED [LINES]]. A fixed seed gives the same output;
the committed files are the reference either way."""
import random
import sys

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 20240611
count = int(sys.argv[2]) if len(sys.argv) > 2 else 640
rng = random.Random(seed)
hosts = ["mx1", "mx2", "relay"]
domains = ["example.com", "example.net", "example.org", "mail.test",
           "corp.example", "gmail.test", "outlook.test"]
users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace",
         "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent"]
relays = [("mx.example.net", "192.0.2.25"), ("mx1.gmail.test", "198.51.100.7"),
          ("mail.corp.example", "203.0.113.40"), ("in.outlook.test", "192.0.2.99")]
bounces = [
    "host {r}[{ip}] said: 550 5.1.1 <{to}>: Recipient address rejected: "
    "User unknown in virtual mailbox table (in reply to RCPT TO command)",
    "host {r}[{ip}] said: 552 5.2.2 <{to}>: Mailbox full (in reply to end of "
    "DATA command)",
    "host {r}[{ip}] said: 554 5.7.1 Service unavailable; Client host "
    "[198.51.100.3] blocked using zen.spamhaus.org (in reply to RCPT TO command)",
]
deferrals = [
    "host {r}[{ip}] said: 451 4.7.1 Greylisted, please try again later (in "
    "reply to RCPT TO command)",
    "connect to {r}[{ip}]:25: Connection timed out",
]
HEX = "0123456789ABCDEF"

def qid():
    return "".join(rng.choice(HEX) for _ in range(10))

def ts(sec):
    d, s = divmod(sec, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return "Jun %2d %02d:%02d:%02d" % (10 + d, h, m, s)

sec = 3 * 3600
out = []
while len(out) < count:
    sec += rng.randint(0, 9)
    host = rng.choice(hosts)
    pid = rng.randint(1000, 99999)
    q = qid()
    frm = "%s@%s" % (rng.choice(users), rng.choice(domains))
    to = "%s@%s" % (rng.choice(users), rng.choice(domains))
    r, ip = rng.choice(relays)
    pre = "%s %s postfix/" % (ts(sec), host)
    out.append(pre + "smtpd[%d]: %s: client=unknown[%s]" % (pid, q, ip))
    out.append(pre + "cleanup[%d]: %s: message-id=<%s.%d@%s>" %
               (pid + 1, q, q.lower(), sec, frm.split("@")[1]))
    out.append(pre + "qmgr[812]: %s: from=<%s>, size=%d, nrcpt=1 (queue active)"
               % (q, frm, rng.randint(900, 90000)))
    k = rng.random()
    delay = rng.uniform(0.1, 30)
    if k < 0.7:
        status = "sent (250 2.0.0 Ok: queued as %s)" % qid()
        dsn = "2.0.0"
    elif k < 0.85:
        status = "bounced (%s)" % rng.choice(bounces).format(r=r, ip=ip, to=to)
        dsn = status.split(" 5.")[1].split()[0] if " 5." in status else "5.0.0"
        dsn = "5." + dsn
    else:
        status = "deferred (%s)" % rng.choice(deferrals).format(r=r, ip=ip)
        dsn = "4.4.1"
    out.append(pre + "smtp[%d]: %s: to=<%s>, relay=%s[%s]:25, delay=%.1f, "
               "delays=0.1/0/0.2/%.1f, dsn=%s, status=%s" %
               (pid + 2, q, to, r, ip, delay, delay - 0.3, dsn, status))
    if not status.startswith("deferred"):
        out.append(pre + "qmgr[812]: %s: removed" % q)

print("\n".join(out))
