/* Test-only plugin: exports `pcapx_plugin_v1` with the wrong type (it returns
 * a pointer to something that is not a pcapx_plugin). A load error. */
#include <stdint.h>

static const uint32_t not_a_plugin[16] = { 0xdeadbeefu, 64 };

const void *pcapx_plugin_v1(const void *host);
const void *pcapx_plugin_v1(const void *host) {
    (void)host;
    return not_a_plugin;
}
