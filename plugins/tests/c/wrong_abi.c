/* Test-only plugin: built for a (future) ABI major version 2. The host must
 * refuse it without calling it, naming the plugin and both versions. */
#include <stdlib.h>

const void *pcapx_plugin_v2(const void *host);
const void *pcapx_plugin_v2(const void *host) {
    (void)host;
    abort(); /* never called */
}
