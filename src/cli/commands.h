/* The subcommands of the gannet binary. Each takes the arguments after its own
 * name (argv[0] is the subcommand) and returns the process exit code. */
#ifndef GANNET_CLI_COMMANDS_H
#define GANNET_CLI_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_passwd(int argc, char **argv);

#endif
