#!/bin/sh
# Regenerates NAME.expected for every corpus message with Dovecot (run by hand,
# as root, where Dovecot is installed; not part of make check). Each .expected
# holds three lines: ENVELOPE, BODY and BODYSTRUCTURE exactly as Dovecot's
# doveadm fetch prints imap.envelope, imap.body and imap.bodystructure.
# A string Dovecot sends as a literal keeps its bytes ({N} CRLF DATA), so a
# line may contain CRLF and 8-bit bytes; the test reads "ENVELOPE ", "BODY ",
# "BODYSTRUCTURE " prefixed records, each ending at the next "\n" + prefix.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/gannet-dovecot.XXXXXX)
trap 'doveadm -c "$tmp/dovecot.conf" stop 2>/dev/null; sleep 1; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -p "$tmp/mail" "$tmp/run" "$tmp/state"
chown -R nobody:nogroup "$tmp/mail"
cat > "$tmp/dovecot.conf" <<CONF
protocols =
base_dir = $tmp/run
state_dir = $tmp/state
log_path = /dev/stderr
ssl = no
mail_location = maildir:$tmp/mail/%u
mail_uid = nobody
mail_gid = nogroup
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$tmp/mail/%u
}
passdb {
  driver = static
  args = nopassword
}
CONF
conf="$tmp/dovecot.conf"
# doveadm -u needs the master's auth service for its userdb lookup
dovecot -c "$conf"
sleep 1
cd "$here"
for msg in $(ls | grep -Ev '\.(expected|gannet-differs|sh|py|md)$|^README'); do
    doveadm -c "$conf" expunge -u test mailbox INBOX all
    doveadm -c "$conf" save -u test < "$msg"
    out="$tmp/out"
    : > "$out"
    for field in envelope body bodystructure; do
        upper=$(echo "$field" | tr a-z A-Z)
        printf '%s ' "$upper" >> "$out"
        # -f flow would escape; the raw value is what follows "imap.X: " in pager form
        doveadm -c "$conf" -f pager fetch -u test "imap.$field" mailbox INBOX all \
            | sed -e '1s/^imap\.[a-z]*: //' | sed -e '$ { /^\f$/d }' > "$tmp/val"
        # pager ends the record with a form feed line; drop the final newline too
        head -c -1 "$tmp/val" >> "$out"
        printf '\n' >> "$out"
    done
    cp "$out" "$msg.expected"
done
echo "expected results written in $here"
