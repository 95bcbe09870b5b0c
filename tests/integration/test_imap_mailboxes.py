"""Mailboxes over IMAP (RFC 9051 §6.3.4-6.3.11): CREATE, DELETE, RENAME,
SUBSCRIBE, UNSUBSCRIBE, LIST with LIST-EXTENDED options, SPECIAL-USE and
LIST-STATUS, LSUB, NAMESPACE, STATUS; and curl listing an account."""

import imaplib
import subprocess
import unittest

from harness import ServerTestCase, password

USERS = ("mia", "max", "ned", "ora", "pat", "quin", "rex")


class MailboxesTest(ServerTestCase):
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def imap(self, user):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        m.login(user, password(user))
        self.addCleanup(m.logout)
        return m

    def lines(self, c, command, tag="t"):
        c.cmd(f"{tag} {command}")
        return c.read_until_tagged(tag)

    def test_a_new_account_lists_inbox_and_the_special_folders(self):
        with self.srv.imap_logged_in("mia") as c:
            untagged, tagged = self.lines(c, 'LIST "" "*"')
            self.assertEqual(tagged, "t OK LIST completed.")
            self.assertEqual(untagged[0], '* LIST (\\HasNoChildren) "/" INBOX')
            for line in ('* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
                         '* LIST (\\HasNoChildren \\Sent) "/" Sent',
                         '* LIST (\\HasNoChildren \\Trash) "/" Trash'):
                self.assertIn(line, untagged)
            # RFC 9051 §6.3.9: the delimiter
            self.assertEqual(self.lines(c, 'LIST "" ""'),
                             (['* LIST (\\Noselect) "/" ""'], "t OK LIST completed."))
            self.assertEqual(self.lines(c, "NAMESPACE"),
                             (['* NAMESPACE (("" "/")) NIL NIL'], "t OK NAMESPACE completed."))

    def test_create_rename_delete_with_hierarchy(self):
        with self.srv.imap_logged_in("max") as c:
            self.assertEqual(self.lines(c, "CREATE Work/2026")[1], "t OK CREATE completed.")
            self.assertEqual(self.lines(c, "CREATE Work/2026")[1],
                             "t NO [ALREADYEXISTS] Mailbox already exists.")
            untagged, _ = self.lines(c, 'LIST "" "Work*"')
            self.assertEqual(untagged, ['* LIST (\\HasChildren) "/" Work',
                                        '* LIST (\\HasNoChildren) "/" Work/2026'])
            self.assertEqual(self.lines(c, 'LIST "Work/" "%"')[0],
                             ['* LIST (\\HasNoChildren) "/" Work/2026'])
            self.assertEqual(self.lines(c, "DELETE Work")[1], "t NO [INUSE] The mailbox has children.")
            self.assertEqual(self.lines(c, "RENAME Work Job")[1], "t OK RENAME completed.")
            self.assertEqual(self.lines(c, 'LIST "" "Job/%"')[0],
                             ['* LIST (\\HasNoChildren) "/" Job/2026'])
            self.assertEqual(self.lines(c, "DELETE Job/2026")[1], "t OK DELETE completed.")
            self.assertEqual(self.lines(c, "DELETE INBOX")[1],
                             "t NO [CANNOT] INBOX cannot be deleted.")
            self.assertEqual(self.lines(c, "DELETE Nothing")[1],
                             "t NO [NONEXISTENT] Mailbox does not exist.")
            self.assertEqual(self.lines(c, "CREATE \"bad*name\"")[1],
                             "t NO [CANNOT] Invalid mailbox name.")

    def test_international_names_in_modified_utf7(self):
        m = self.imap("ned")
        # RFC 9051 §5.1.3's example: "~peter/mail/台北/日本語"
        name = "&U,BTFw-/&ZeVnLIqe-"
        self.assertEqual(m.create(name)[0], "OK")
        typ, data = m.list('""', "*")
        self.assertIn(b'(\\HasNoChildren) "/" &U,BTFw-/&ZeVnLIqe-', data)
        self.assertEqual(m.create("&Jjo-!")[0], "OK")  # ☺!

    def test_subscriptions_and_lsub(self):
        with self.srv.imap_logged_in("ora") as c:
            self.lines(c, "CREATE Lists")
            self.assertEqual(self.lines(c, "UNSUBSCRIBE Sent")[1], "t OK UNSUBSCRIBE completed.")
            self.assertEqual(self.lines(c, "SUBSCRIBE Lists")[1], "t OK SUBSCRIBE completed.")
            untagged, _ = self.lines(c, 'LSUB "" "*"')
            self.assertIn('* LSUB () "/" Lists', untagged)
            self.assertNotIn('* LSUB () "/" Sent', untagged)
            untagged, _ = self.lines(c, 'LIST (SUBSCRIBED) "" "L*"')
            self.assertEqual(untagged, ['* LIST (\\HasNoChildren \\Subscribed) "/" Lists'])
            untagged, _ = self.lines(c, 'LIST "" "S*" RETURN (SUBSCRIBED)')
            self.assertEqual(untagged, ['* LIST (\\HasNoChildren \\Sent) "/" Sent'])

    def test_status_and_list_status(self):
        with self.srv.imap_logged_in("pat") as c:
            msg = b"From: a@example.org\r\n\r\nhi\r\n"
            c.send(b"a APPEND INBOX (\\Seen) {%d+}\r\n" % len(msg) + msg + b"\r\n")
            c.read_until_tagged("a")
            c.send(b"b APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
            c.read_until_tagged("b")
            untagged, tagged = self.lines(c, "STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE)")
            self.assertEqual(tagged, "t OK STATUS completed.")
            self.assertEqual(untagged, [f"* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 1 SIZE "
                                        f"{2 * len(msg)})"])
            untagged, _ = self.lines(c, 'LIST "" "INBOX" RETURN (STATUS (MESSAGES))')
            self.assertEqual(untagged, ['* LIST (\\HasNoChildren) "/" INBOX',
                                        "* STATUS INBOX (MESSAGES 2)"])
            self.assertRegex(self.lines(c, "STATUS INBOX (BOGUS)")[1], r"^t BAD ")
            self.assertEqual(self.lines(c, "STATUS Nope (MESSAGES)")[1],
                             "t NO [NONEXISTENT] Mailbox does not exist.")

    def test_imaplib_and_curl_list(self):
        m = self.imap("quin")
        self.assertEqual(m.create("Archive/2025")[0], "OK")
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        self.assertIn(b'(\\HasNoChildren) "/" Archive/2025', data)
        r = subprocess.run(["curl", "-sk", f"imaps://127.0.0.1:{self.srv.ports['imaps']}/",
                            "-u", f"quin:{password('quin')}"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'* LIST (\\HasNoChildren) "/" INBOX', r.stdout)
        self.assertIn(b'"/" Archive/2025', r.stdout)

    def test_bad_arguments(self):
        with self.srv.imap_logged_in("rex") as c:
            for command in ("LIST", 'LIST ""', 'LIST (BOGUS) "" "*"', 'LIST "" "*" RETURN (X)',
                            "CREATE", "RENAME a", "STATUS INBOX", "CREATE x (USE (\\Bogus))"):
                with self.subTest(command=command):
                    self.assertRegex(self.lines(c, command)[1], r"^t BAD ")
            self.assertEqual(self.lines(c, "NOOP")[1], "t OK NOOP completed.")


if __name__ == "__main__":
    unittest.main()
