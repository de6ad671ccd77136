/*
 * Test-only plugin: "gamex", a made-up UDP game protocol on port 27960, as
 * the third-party author of the plugins issue wrote it — with the ABI 1.1
 * declarations that author lacked: value names (Wireshark's value_string) on
 * an enumeration and on a signed coordinate, and a hex-based flags field.
 *
 *   byte 0     message type (uint8): 1 JOIN, 2 MOVE, 3 LEAVE
 *   bytes 1-2  x coordinate (int16, big-endian): -1 OFFSCREEN
 *   bytes 3-4  flags (uint16, hex)
 *
 * It leaves its summary to the host (summary = NULL), which shows the value
 * names: "GameX MOVE".
 *
 * With -DABI_1_0_FIELDS the field records are declared with ABI 1.0's layout
 * (no value-name members, the smaller size): such a plugin must still load,
 * with no value names.
 */
#include <stddef.h>
#include <stdint.h>

#include "pcapx_plugin.h"

#ifdef ABI_1_0_FIELDS
/* pcapx_field as ABI 1.0 defined it. */
typedef struct field_1_0 {
    uint32_t size;
    uint8_t ftype;
    uint8_t base;
    uint16_t alias_count;
    const char *name;
    const char *display;
    const char *description;
    const char *const *aliases;
} field_1_0;

static const field_1_0 fields_1_0[] = {
    { sizeof(field_1_0), PCAPX_FT_U8, PCAPX_BASE_DEC, 0, "gamex.type", "Message Type", "what the message does", NULL },
    { sizeof(field_1_0), PCAPX_FT_I16, PCAPX_BASE_DEC, 0, "gamex.x", "X", "x coordinate", NULL },
    { sizeof(field_1_0), PCAPX_FT_U16, PCAPX_BASE_HEX, 0, "gamex.flags", "Flags", "flag bits", NULL },
};
#define FIELDS ((const pcapx_field *)(const void *)fields_1_0)
#else
static const pcapx_value_name type_names[] = {
    { sizeof(pcapx_value_name), 1, "JOIN" },
    { sizeof(pcapx_value_name), 2, "MOVE" },
    { sizeof(pcapx_value_name), 3, "LEAVE" },
};

static const pcapx_value_name x_names[] = {
    /* a signed value travels as its two's-complement pattern */
    { sizeof(pcapx_value_name), (uint64_t)(int64_t)-1, "OFFSCREEN" },
};

static const pcapx_field fields[] = {
    { sizeof(pcapx_field), PCAPX_FT_U8, PCAPX_BASE_DEC, 0, "gamex.type", "Message Type", "what the message does", NULL,
      3, type_names },
    { sizeof(pcapx_field), PCAPX_FT_I16, PCAPX_BASE_DEC, 0, "gamex.x", "X", "x coordinate", NULL,
      1, x_names },
#ifdef BAD_NAMES
    /* value names on a string field: a load error */
    { sizeof(pcapx_field), PCAPX_FT_STR, PCAPX_BASE_DEC, 0, "gamex.flags", "Flags", "flag bits", NULL,
      1, x_names },
#else
    { sizeof(pcapx_field), PCAPX_FT_U16, PCAPX_BASE_HEX, 0, "gamex.flags", "Flags", "flag bits", NULL, 0, NULL },
#endif
};
#define FIELDS fields
#endif

static const pcapx_binding bindings[] = {
    { sizeof(pcapx_binding), "udp.port", 27960 },
};

static int32_t gamex_dissect(void *user, const uint8_t *data, size_t len,
                             const pcapx_layer_info *info, const pcapx_host_api *api,
                             void *cx, pcapx_outcome *out) {
    (void)user;
    (void)info;
    if (len < 5) {
        api->short_(cx);
        return PCAPX_STATUS_OK;
    }
    api->add_u64(cx, 0, data[0]);
    api->add_i64(cx, 1, (int16_t)(uint16_t)((data[1] << 8) | data[2]));
    api->add_u64(cx, 2, (uint64_t)((data[3] << 8) | data[4]));
    out->header_len = 5;
    out->next = PCAPX_NEXT_END;
    return PCAPX_STATUS_OK;
}

static const pcapx_protocol protocols[] = {{
    .size = sizeof(pcapx_protocol),
    .field_count = 3,
    .binding_count = 1,
    .name = "gamex",
    .display = "GameX protocol",
    .summary_name = "GameX",
    .fields = FIELDS,
    .bindings = bindings,
    .dissect = gamex_dissect,
    .summary = NULL,
}};

static const pcapx_plugin plugin = {
    .magic = PCAPX_PLUGIN_MAGIC,
    .size = sizeof(pcapx_plugin),
    .abi_major = PCAPX_ABI_MAJOR,
#ifdef ABI_1_0_FIELDS
    .abi_minor = 0,
#else
    .abi_minor = PCAPX_ABI_MINOR,
#endif
    .name = "gamex",
    .version = "0.0.1",
    .description = "test: a made-up game protocol with value names",
    .protocol_count = 1,
    .protocols = protocols,
};

const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *host) {
    if (host == NULL || host->abi_major != PCAPX_ABI_MAJOR)
        return NULL;
    return &plugin;
}
