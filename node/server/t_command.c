/* t_command: the COMMAND command.  The replies are common/cmdreply's, the
 * same code strata-proxy answers with, in the connection's protocol. */
#include "cmd.h"
#include "cmdreply.h"

static void command_command(client *c)
{
    cmdreply_command(&c->out, c->resp, c->argc, c->argv, c->argvlen);
}

void t_command_register(void)
{
    server_register(CMD_COMMAND, command_command);
}
