/*
 * Test-only plugin: a native crash on one message type. Claims UDP port 7777;
 * a payload whose first byte is 0xEE makes it fault — a NULL write (SIGSEGV),
 * or abort() when built with -DCRASH_ABORT (what a Rust plugin built with
 * panic = "abort" does on a panic). Every other payload decodes as one U8
 * field. pcapx must report the plugin and the packet, exit 2, and leave no
 * partial output. It also binds UDP port 53, which the built-in DNS holds
 * (listed as shadowed), and with -DALIAS='"sport"' (or '"+sport"') gives its
 * field an alias that built-ins already use (an error unless joined with +).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pcapx_plugin.h"

#ifdef CRASH_ABORT
#define NAME "aborter"
#else
#define NAME "crasher"
#endif

#ifdef ALIAS
static const char *const aliases[] = { ALIAS };
#define ALIAS_COUNT 1
#define ALIAS_LIST aliases
#else
#define ALIAS_COUNT 0
#define ALIAS_LIST NULL
#endif

static const pcapx_field fields[] = {
    { sizeof(pcapx_field), PCAPX_FT_U16, PCAPX_BASE_DEC, ALIAS_COUNT, NAME ".kind", "Kind", "first byte", ALIAS_LIST },
};

static const pcapx_binding bindings[] = {
    { sizeof(pcapx_binding), "udp.port", 7777 },
    { sizeof(pcapx_binding), "udp.port", 53 },
};

static int32_t crasher_dissect(void *user, const uint8_t *data, size_t len,
                               const pcapx_layer_info *info, const pcapx_host_api *api,
                               void *cx, pcapx_outcome *out) {
    (void)user;
    (void)info;
    if (len == 0) {
        api->short_(cx);
        return PCAPX_STATUS_OK;
    }
    if (data[0] == 0xEE) {
#ifdef CRASH_ABORT
        abort();
#else
        volatile int *volatile nowhere = NULL;
        *nowhere = 1;
#endif
    }
    api->add_u64(cx, 0, data[0]);
    out->header_len = len;
    out->next = PCAPX_NEXT_END;
    return PCAPX_STATUS_OK;
}

static const pcapx_protocol protocols[] = {{
    .size = sizeof(pcapx_protocol),
    .field_count = 1,
    .binding_count = 2,
    .heuristic_count = 0,
    .table_count = 0,
    .anomaly_count = 0,
#ifdef CRASH_ABORT
    .name = "aborter",
    .display = "Aborting test protocol",
    .summary_name = "Aborter",
#else
    .name = "crasher",
    .display = "Crashing test protocol",
    .summary_name = "Crasher",
#endif
    .fields = fields,
    .bindings = bindings,
    .heuristics = NULL,
    .tables = NULL,
    .anomalies = NULL,
    .user = NULL,
    .dissect = crasher_dissect,
    .accepts = NULL,
    .summary = NULL,
}};

static const pcapx_plugin plugin = {
    .magic = PCAPX_PLUGIN_MAGIC,
    .size = sizeof(pcapx_plugin),
    .abi_major = PCAPX_ABI_MAJOR,
    .abi_minor = PCAPX_ABI_MINOR,
    .flags = 0,
#ifdef CRASH_ABORT
    .name = "aborter",
#else
    .name = "crasher",
#endif
    .version = "0.0.1",
    .description = "test: crashes on payloads starting with 0xEE",
    .protocol_count = 1,
    .protocols = protocols,
};

const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *host) {
    if (host == NULL || host->abi_major != PCAPX_ABI_MAJOR)
        return NULL;
    return &plugin;
}
