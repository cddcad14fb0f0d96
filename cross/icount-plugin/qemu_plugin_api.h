/*
 * The subset of the QEMU TCG plugin API (API version 1, as shipped by QEMU 7.2) that icount.c
 * uses. Debian 12 packages qemu-user 7.2 but not its <qemu/qemu-plugin.h>, so these are our own
 * declarations of the documented interface (https://www.qemu.org/docs/master/devel/tcg-plugins.html).
 * The symbols are resolved at load time against the qemu-aarch64 binary that dlopen()s the plugin;
 * QEMU refuses a plugin whose exported qemu_plugin_version is outside the range it supports.
 */
#ifndef EDGEFER_QEMU_PLUGIN_API_H
#define EDGEFER_QEMU_PLUGIN_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGEFER_PLUGIN_EXPORT __attribute__((visibility("default")))
#define EDGEFER_QEMU_PLUGIN_API_VERSION 1

typedef uint64_t qemu_plugin_id_t;

/* Passed to qemu_plugin_install(); only valid during that call. */
typedef struct qemu_info_t {
    const char *target_name;  /* guest architecture, "aarch64" here */
    struct {
        int min;              /* oldest plugin API version this QEMU accepts */
        int cur;              /* newest */
    } version;
    bool system_emulation;    /* false in user mode (qemu-aarch64) */
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;    /* opaque: a translation block being translated */
struct qemu_plugin_insn;  /* opaque: one guest instruction of such a block */

/* The only inline operation of API version 1: *ptr += imm, emitted into the translated code. */
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_simple_cb_t)(qemu_plugin_id_t id);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_simple_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                                              uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                              uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);

/* What the plugin exports. */
extern EDGEFER_PLUGIN_EXPORT int qemu_plugin_version;
EDGEFER_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* What QEMU provides. */
void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

#endif
