/* Test-only: a plugin whose entry point declines to load (returns NULL, as
 * a plugin does on a host it does not support). pcapx skips it with a
 * warning and goes on. */
#include "pcapx_plugin.h"

const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *host) {
    (void)host;
    return NULL;
}
