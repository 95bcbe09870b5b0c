/* The subcommands of the gannet binary. Each takes the arguments after its own
 * name (argv[0] is the subcommand) and returns the process exit code. */
#ifndef GANNET_CLI_COMMANDS_H
#define GANNET_CLI_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_probe(int argc, char **argv);
/* The mail admin commands (Dovecot's doveadm): all take -c FILE -u USER and
 * drop to mail_uid/mail_gid before touching mail (cli/mail-user.h). */
int cmd_mailbox(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_deliver(int argc, char **argv);

#endif
