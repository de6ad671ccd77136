/*
 * pcapx_plugin.h -- the pcapx dissector-plugin C ABI, version 1.0.
 *
 * A plugin is a shared library exporting one function:
 *
 *     const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *host);
 *
 * The ABI's major version is part of the symbol's name; a library exporting
 * another pcapx_plugin_vN is refused without being called. The returned
 * declarations must stay valid for the life of the process (pcapx never
 * unloads a plugin): static data is the simplest choice.
 *
 * Every structure carries its own size: minor versions only append members,
 * and each side reads only the members within the size the other side wrote.
 * Arrays of declarations are walked using each element's `size` as the stride.
 *
 * Memory: whatever one side allocates, that side frees. Pointers passed into a
 * callback (packet bytes, pcapx_layer_info, pcapx_host_api, the cx handle,
 * pcapx_outcome, summary buffers) are valid only during that call.
 *
 * Threads: dissect/accepts/summary are called concurrently from several worker
 * threads. Keep `user` state immutable after the entry returns, or set
 * PCAPX_PLUGIN_SINGLE_THREADED and the host serialises every call.
 *
 * Faults: return PCAPX_STATUS_FAILED, a header_len past the input, an unknown
 * field/anomaly/table index or a value of the wrong type, and the packet gets
 * the `plugin-failed` anomaly; processing goes on.
 *
 * Kept in sync with crates/plugin-abi/src/lib.rs by a test that compiles this
 * header and compares every size, offset and constant.
 */
#ifndef PCAPX_PLUGIN_H
#define PCAPX_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCAPX_ABI_MAJOR 1
#define PCAPX_ABI_MINOR 1
#define PCAPX_PLUGIN_MAGIC 0x50435850u /* "PCXP" */
#define PCAPX_ENTRY_SYMBOL "pcapx_plugin_v1"

/* Field types. */
#define PCAPX_FT_U8 1
#define PCAPX_FT_U16 2
#define PCAPX_FT_U32 3
#define PCAPX_FT_U64 4
#define PCAPX_FT_I64 5
#define PCAPX_FT_F64 6
#define PCAPX_FT_BOOL 7
#define PCAPX_FT_IPV4 8
#define PCAPX_FT_IPV6 9
#define PCAPX_FT_MAC 10
#define PCAPX_FT_BYTES 11
#define PCAPX_FT_STR 12
#define PCAPX_FT_TIME 13 /* signed nanoseconds since the Unix epoch */
#define PCAPX_FT_I8 14   /* ABI 1.1: signed integers narrower than 64 bits (add_i64, must fit) */
#define PCAPX_FT_I16 15
#define PCAPX_FT_I32 16

/* Display base of integer fields. */
#define PCAPX_BASE_DEC 0
#define PCAPX_BASE_HEX 1

/* pcapx_outcome.next */
#define PCAPX_NEXT_END 0   /* nothing follows; the rest becomes a `data` layer */
#define PCAPX_NEXT_TABLE 1 /* look `key` up in tables[table] */
#define PCAPX_NEXT_PORTS 2 /* src_port/dst_port in tables[table] */
#define PCAPX_NEXT_NOT_MINE 3 /* ABI 1.1: not this protocol's bytes (emit nothing first):
                                  the next candidate (other port, heuristics) or data takes them */

/* "No length" in declared_len / payload_len. */
#define PCAPX_NO_LEN UINT64_MAX

/* Return codes of the dissect callback. */
#define PCAPX_STATUS_OK 0
#define PCAPX_STATUS_FAILED 1
#define PCAPX_STATUS_PANICKED 2

/* pcapx_plugin.flags */
#define PCAPX_PLUGIN_SINGLE_THREADED 1u

/* pcapx_layer_info.flags */
#define PCAPX_LAYER_QUOTED 1u

/* A borrowed string, not NUL-terminated. */
typedef struct pcapx_str {
    const char *ptr;
    size_t len;
} pcapx_str;

/* One field. Its index in pcapx_protocol.fields is the id given to add_*. */
typedef struct pcapx_field {
    uint32_t size;           /* sizeof(pcapx_field) */
    uint8_t ftype;           /* PCAPX_FT_* */
    uint8_t base;            /* PCAPX_BASE_* */
    uint16_t alias_count;
    const char *name;        /* filter name: "tftp.opcode" */
    const char *display;     /* "Opcode" */
    const char *description; /* may be NULL */
    const char *const *aliases; /* alias_count short names */
    /* ABI 1.1 (a 1.0 plugin's smaller `size` means none): */
    uint32_t value_name_count;
    const struct pcapx_value_name *value_names; /* value_string: 2 -> "MOVE" */
} pcapx_field;

/* ABI 1.1: one name of an integer field's value (Wireshark's value_string).
 * A signed field's value is given as its two's-complement 64-bit pattern. */
typedef struct pcapx_value_name {
    uint32_t size;           /* sizeof(pcapx_value_name) */
    uint64_t value;
    const char *name;        /* "MOVE" */
} pcapx_value_name;

/* A dispatch binding: { sizeof, "udp.port", 69 }. */
typedef struct pcapx_binding {
    uint32_t size;
    const char *table;
    uint64_t key;
} pcapx_binding;

/* A protocol-specific anomaly; its index is what api->anomaly takes. */
typedef struct pcapx_anomaly {
    uint32_t size;
    const char *name;        /* "tftp.bad-opcode" */
    const char *description;
} pcapx_anomaly;

/* What the host tells the plugin about the layer (read-only). */
typedef struct pcapx_layer_info {
    uint32_t size;
    uint32_t flags;          /* PCAPX_LAYER_* */
    uint64_t frame_number;   /* 1-based */
    uint64_t offset;         /* byte offset of this layer within the frame */
    uint64_t declared_len;   /* payload length the layer below declared, or PCAPX_NO_LEN */
    pcapx_str prev_proto;    /* name of the protocol below ("udp"); len 0 if none */
} pcapx_layer_info;

/* What the plugin reports. The host pre-fills size, next = PCAPX_NEXT_END,
 * header_len = 0, payload_len = PCAPX_NO_LEN and zeroes the rest. */
typedef struct pcapx_outcome {
    uint32_t size;
    uint32_t next;           /* PCAPX_NEXT_* */
    uint64_t header_len;     /* bytes of this layer's header, <= len */
    uint64_t payload_len;    /* declared payload length, or PCAPX_NO_LEN */
    uint32_t table;          /* index into pcapx_protocol.tables */
    uint16_t src_port;
    uint16_t dst_port;
    uint64_t key;
} pcapx_outcome;

/* The host's callbacks; `cx` is the handle passed to dissect. */
typedef struct pcapx_host_api {
    uint32_t size;
    uint32_t abi_minor;
    void (*add_u64)(void *cx, uint32_t field, uint64_t value);   /* FT_U8..FT_U64 (must fit) */
    void (*add_i64)(void *cx, uint32_t field, int64_t value);    /* FT_I8..FT_I64 (must fit) */
    void (*add_f64)(void *cx, uint32_t field, double value);     /* FT_F64 */
    void (*add_bool)(void *cx, uint32_t field, int32_t value);   /* FT_BOOL */
    void (*add_time)(void *cx, uint32_t field, int64_t ns);      /* FT_TIME */
    void (*add_bytes)(void *cx, uint32_t field, const uint8_t *ptr, size_t len); /* FT_BYTES, FT_IPV4 (4), FT_IPV6 (16), FT_MAC (6) */
    void (*add_str)(void *cx, uint32_t field, const uint8_t *ptr, size_t len);   /* FT_STR (UTF-8; other bytes become '?') */
    int32_t (*wants)(void *cx, uint32_t field);                  /* 1 if the job needs the field */
    void (*anomaly)(void *cx, uint32_t anomaly);                 /* index into pcapx_protocol.anomalies */
    void (*short_)(void *cx);    /* header cut short: records `truncated` or `malformed` */
    void (*malformed)(void *cx); /* records `malformed` */
    /* ABI 1.1 (check `size` first): the message of a caught panic/exception,
     * reported once per plugin with its packet; then return PCAPX_STATUS_PANICKED. */
    void (*panic_message)(void *cx, const uint8_t *ptr, size_t len);
    /* ABI 1.1: 1 if the calling thread is inside a call from the host into a
     * plugin, else 0; callable from any thread at any time (no cx). A panic or
     * crash hook can use it to stay silent for what the call itself reports. */
    int32_t (*in_plugin_call)(void);
} pcapx_host_api;

/* Read data[0..len) only. Return PCAPX_STATUS_OK or PCAPX_STATUS_FAILED. */
typedef int32_t (*pcapx_dissect_fn)(void *user, const uint8_t *data, size_t len,
                                    const pcapx_layer_info *info,
                                    const pcapx_host_api *api, void *cx,
                                    pcapx_outcome *out);
/* Heuristic: 1 if the payload is ours, 0 if not. Must not emit anything. */
typedef int32_t (*pcapx_accepts_fn)(void *user, const uint8_t *data, size_t len,
                                    const pcapx_layer_info *info);
/* Summary of a layer starting at data (to the end of the captured frame):
 * write at most cap bytes of UTF-8 into buf (host-owned), return the count,
 * or 0 to be shown by summary_name. */
typedef intptr_t (*pcapx_summary_fn)(void *user, const uint8_t *data, size_t len,
                                     size_t header_len, char *buf, size_t cap);

/* One protocol; becomes one dissector. */
typedef struct pcapx_protocol {
    uint32_t size;
    uint32_t field_count;
    uint32_t binding_count;
    uint32_t heuristic_count;
    uint32_t table_count;
    uint32_t anomaly_count;
    const char *name;          /* "tftp" */
    const char *display;       /* "Trivial File Transfer Protocol" */
    const char *summary_name;  /* "TFTP" */
    const pcapx_field *fields;
    const pcapx_binding *bindings;
    const char *const *heuristics; /* tables whose unclaimed payloads `accepts` sees */
    const char *const *tables;     /* tables this protocol hands off into */
    const pcapx_anomaly *anomalies;
    void *user;                    /* passed back to every callback */
    pcapx_dissect_fn dissect;      /* required */
    pcapx_accepts_fn accepts;      /* NULL unless heuristic_count > 0 */
    pcapx_summary_fn summary;      /* may be NULL */
} pcapx_protocol;

/* What the entry point returns. */
typedef struct pcapx_plugin {
    uint32_t magic;            /* PCAPX_PLUGIN_MAGIC */
    uint32_t size;             /* sizeof(pcapx_plugin) */
    uint16_t abi_major;        /* PCAPX_ABI_MAJOR */
    uint16_t abi_minor;        /* PCAPX_ABI_MINOR */
    uint32_t flags;            /* PCAPX_PLUGIN_* */
    const char *name;
    const char *version;
    const char *description;
    uint32_t protocol_count;
    const pcapx_protocol *protocols;
} pcapx_plugin;

/* What the host tells the plugin at load time. */
typedef struct pcapx_host_info {
    uint32_t size;
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *host_version;
    /* ABI 1.1 (when `size` covers it): the callback table every dissect call
     * receives, valid while the plugin is loaded. */
    const struct pcapx_host_api *api;
} pcapx_host_info;

/* The entry point every v1 plugin exports. Return NULL to refuse to load. */
const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *host);

#ifdef __cplusplus
}
#endif

#endif /* PCAPX_PLUGIN_H */
