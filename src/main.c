/* kiln: argv in, one call, exit status out. */
#include "cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
