/*
 * Example pcapx plugin in plain C: TFTP (RFC 1350, options RFC 2347).
 *
 * Build:  cc -std=c99 -O2 -shared -fPIC -I crates/plugin-abi/include \
 *            -o libpcapx_tftp.so plugins/tftp/tftp.c
 *
 * Requests arrive on UDP port 69 (a binding). The transfer that follows runs
 * between two ephemeral ports; tshark follows it with conversation tracking,
 * which needs per-flow state shared across packets. This plugin keeps no state
 * (so it is safe to call from every worker at once) and instead registers a
 * heuristic on `udp.port`: a payload whose first two bytes are a TFTP opcode
 * and whose shape fits that opcode (ACK: exactly 4 bytes; DATA: at most
 * 4 + 512 bytes; ERROR/OACK: NUL-terminated strings) is taken as TFTP. The
 * heuristic can claim unrelated UDP traffic of that shape on ports nobody else
 * is bound to; tshark's generated `tftp.source_file`/`destination_file` on DATA
 * and ACK packets (copied from the request) are not produced.
 *
 * All state is static and immutable; nothing is allocated.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pcapx_plugin.h"

enum {
    F_OPCODE,
    F_SOURCE_FILE,
    F_DESTINATION_FILE,
    F_TYPE,
    F_BLOCK,
    F_ERROR_CODE,
    F_ERROR_MESSAGE,
    F_OPTION_NAME,
    F_OPTION_VALUE,
    F_COUNT
};

enum { A_BAD_OPCODE, A_COUNT };

#define FIELD(n, d, t, desc) { sizeof(pcapx_field), (t), PCAPX_BASE_DEC, 0, (n), (d), (desc), NULL }

static const pcapx_field fields[F_COUNT] = {
    [F_OPCODE] = FIELD("tftp.opcode", "Opcode", PCAPX_FT_U16, "TFTP message type"),
    [F_SOURCE_FILE] = FIELD("tftp.source_file", "Source File", PCAPX_FT_STR, "TFTP source file name (read request)"),
    [F_DESTINATION_FILE] = FIELD("tftp.destination_file", "Destination File", PCAPX_FT_STR, "TFTP destination file name (write request)"),
    [F_TYPE] = FIELD("tftp.type", "Type", PCAPX_FT_STR, "TFTP transfer type (mode)"),
    [F_BLOCK] = FIELD("tftp.block", "Block", PCAPX_FT_U16, "Block number"),
    [F_ERROR_CODE] = FIELD("tftp.error.code", "Error code", PCAPX_FT_U16, "Error code in case of TFTP error message"),
    [F_ERROR_MESSAGE] = FIELD("tftp.error.message", "Error message", PCAPX_FT_STR, "Error string in case of TFTP error message"),
    [F_OPTION_NAME] = FIELD("tftp.option.name", "Option name", PCAPX_FT_STR, "RFC 2347 option name"),
    [F_OPTION_VALUE] = FIELD("tftp.option.value", "Option value", PCAPX_FT_STR, "RFC 2347 option value"),
};

static const pcapx_binding bindings[] = {
    { sizeof(pcapx_binding), "udp.port", 69 },
};

static const char *const heuristics[] = { "udp.port" };

static const pcapx_anomaly anomalies[A_COUNT] = {
    [A_BAD_OPCODE] = { sizeof(pcapx_anomaly), "tftp.bad-opcode", "TFTP opcode is not 1-6" },
};

static unsigned be16(const uint8_t *p) { return ((unsigned)p[0] << 8) | p[1]; }

/* Emit the NUL-terminated string at data[*at..len) into `field` and move past
 * it. Returns 0 when the string is not terminated within the data (it is
 * emitted up to the end and the layer is marked short). */
static int strz(const uint8_t *data, size_t len, size_t *at, uint32_t field,
                const pcapx_host_api *api, void *cx) {
    const uint8_t *start = data + *at;
    size_t rest = len - *at;
    const uint8_t *nul = memchr(start, 0, rest);
    size_t n = nul ? (size_t)(nul - start) : rest;
    api->add_str(cx, field, start, n);
    if (!nul) {
        *at = len;
        api->short_(cx);
        return 0;
    }
    *at += n + 1;
    return 1;
}

static int32_t tftp_dissect(void *user, const uint8_t *data, size_t len,
                            const pcapx_layer_info *info,
                            const pcapx_host_api *api, void *cx,
                            pcapx_outcome *out) {
    size_t at = 2;
    unsigned op;
    (void)user;
    (void)info;
    if (len < 2) {
        api->short_(cx);
        out->header_len = len;
        return PCAPX_STATUS_OK;
    }
    op = be16(data);
    api->add_u64(cx, F_OPCODE, op);
    switch (op) {
    case 1: /* RRQ */
    case 2: /* WRQ */
        if (at < len && strz(data, len, &at, op == 1 ? F_SOURCE_FILE : F_DESTINATION_FILE, api, cx) &&
            at < len && strz(data, len, &at, F_TYPE, api, cx)) {
            while (at < len && strz(data, len, &at, F_OPTION_NAME, api, cx) && at < len &&
                   strz(data, len, &at, F_OPTION_VALUE, api, cx)) {
            }
        } else if (at >= len) {
            api->short_(cx);
        }
        out->header_len = at;
        break;
    case 3: /* DATA: the block's bytes are left to the `data` layer */
    case 4: /* ACK */
        if (len < 4) {
            api->short_(cx);
            out->header_len = len;
            break;
        }
        api->add_u64(cx, F_BLOCK, be16(data + 2));
        out->header_len = 4;
        break;
    case 5: /* ERROR */
        if (len < 4) {
            api->short_(cx);
            out->header_len = len;
            break;
        }
        api->add_u64(cx, F_ERROR_CODE, be16(data + 2));
        at = 4;
        if (at < len)
            strz(data, len, &at, F_ERROR_MESSAGE, api, cx);
        else
            api->short_(cx);
        out->header_len = at;
        break;
    case 6: /* OACK */
        while (at < len && strz(data, len, &at, F_OPTION_NAME, api, cx) && at < len &&
               strz(data, len, &at, F_OPTION_VALUE, api, cx)) {
        }
        out->header_len = at;
        break;
    default:
        api->anomaly(cx, A_BAD_OPCODE);
        out->header_len = 2;
        break;
    }
    out->next = PCAPX_NEXT_END;
    return PCAPX_STATUS_OK;
}

/* Does data end with a NUL and hold only printable bytes before it? */
static int strings_shape(const uint8_t *p, size_t n) {
    size_t i;
    if (n == 0 || p[n - 1] != 0)
        return 0;
    for (i = 0; i + 1 < n; i++)
        if (p[i] != 0 && (p[i] < 0x20 || p[i] > 0x7e))
            return 0;
    return 1;
}

static int32_t tftp_accepts(void *user, const uint8_t *data, size_t len,
                            const pcapx_layer_info *info) {
    (void)user;
    if (info->prev_proto.len != 3 || memcmp(info->prev_proto.ptr, "udp", 3) != 0)
        return 0;
    if (len < 4 || data[0] != 0)
        return 0;
    switch (data[1]) {
    case 3: return len <= 4 + 512;
    case 4: return len == 4;
    case 5: return be16(data + 2) <= 8 && len > 4 && strings_shape(data + 4, len - 4);
    case 6: return strings_shape(data + 2, len - 2);
    default: return 0;
    }
}

static const pcapx_protocol protocols[] = {{
    .size = sizeof(pcapx_protocol),
    .field_count = F_COUNT,
    .binding_count = 1,
    .heuristic_count = 1,
    .table_count = 0,
    .anomaly_count = A_COUNT,
    .name = "tftp",
    .display = "Trivial File Transfer Protocol",
    .summary_name = "TFTP",
    .fields = fields,
    .bindings = bindings,
    .heuristics = heuristics,
    .tables = NULL,
    .anomalies = anomalies,
    .user = NULL,
    .dissect = tftp_dissect,
    .accepts = tftp_accepts,
    .summary = NULL,
}};

static const pcapx_plugin plugin = {
    .magic = PCAPX_PLUGIN_MAGIC,
    .size = sizeof(pcapx_plugin),
    .abi_major = PCAPX_ABI_MAJOR,
    .abi_minor = PCAPX_ABI_MINOR,
    .flags = 0,
    .name = "tftp",
    .version = "0.1.0",
    .description = "Trivial File Transfer Protocol (UDP 69 + heuristic for the transfer), in C",
    .protocol_count = 1,
    .protocols = protocols,
};

const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *host) {
    if (host == NULL || host->abi_major != PCAPX_ABI_MAJOR)
        return NULL;
    return &plugin;
}
