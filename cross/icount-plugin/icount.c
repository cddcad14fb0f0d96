/*
 * edgefer-icount: a QEMU user-mode TCG plugin counting executed guest instructions, with the
 * counted region marked by the guest program itself.
 *
 * Counting is inline: at translation, each translation block gets one "counter += n_insns"
 * (mode=tb, default) or each instruction one "counter += 1" (mode=insn) emitted into the
 * generated host code. No callback runs per block or per instruction, which keeps the slow-down
 * small. One counter for the whole process: the guest should run one thread (the counts of all
 * threads add up, and inline adds are not atomic across threads; `vcpus` in the output says
 * how many guest threads ever ran).
 *
 * Region markers: the guest calls lseek(-1, MARKER_OFFSET, MARKER_WHENCE | cmd). On any Linux
 * that is a harmless EBADF; here the syscall callback sees it first:
 *   cmd 1 BEGIN  remember the counter
 *   cmd 2 END    append counter - remembered value to the list of regions
 *   cmd 3 WRITE  write {total, regions, ...} as JSON to the out= file (atomically), clear regions
 * The counter includes the whole block ending in the marker's svc, so every region also holds the
 * fixed cost of returning from one marker and calling the next; the runner measures that cost
 * with empty regions and reports it.
 *
 * Arguments: out=PATH (file written on WRITE; "%p" becomes the process id), mode=tb|insn,
 * atexit=on (also write at process exit, with the whole-process total).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu_plugin_api.h"

#define PLUGIN_NAME "edgefer-icount"
#define PLUGIN_REVISION 1
#define AARCH64_NR_LSEEK 62
#define MARKER_OFFSET 0x45444745464552ULL /* "EDGEFER" */
#define MARKER_WHENCE 0x49430000U         /* "IC" << 16 */
enum { CMD_BEGIN = 1, CMD_END = 2, CMD_WRITE = 3 };

EDGEFER_PLUGIN_EXPORT int qemu_plugin_version = EDGEFER_QEMU_PLUGIN_API_VERSION;

static uint64_t counter;        /* the inline-incremented instruction count */
static int per_insn;            /* mode=insn */
static int write_at_exit;
static char out_path[4096];
static int api_min, api_cur;
static unsigned int vcpus_seen; /* guest threads that ever started */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t region_begin;
static int region_open;
static uint64_t *regions;
static size_t n_regions, cap_regions;
static uint64_t regions_written; /* over the whole process, for the output's `index` */

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
    (void)id;
    pthread_mutex_lock(&lock);
    if (vcpu_index + 1 > vcpus_seen)
        vcpus_seen = vcpu_index + 1;
    pthread_mutex_unlock(&lock);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    if (!per_insn) {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counter, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        qemu_plugin_register_vcpu_insn_exec_inline(qemu_plugin_tb_get_insn(tb, i),
                                                   QEMU_PLUGIN_INLINE_ADD_U64, &counter, 1);
}

static int expand_path(char *dst, size_t size)
{
    size_t j = 0;
    for (const char *s = out_path; *s; s++) {
        int n;
        if (s[0] == '%' && s[1] == 'p') {
            n = snprintf(dst + j, size - j, "%ld", (long)getpid());
            s++;
        } else {
            n = snprintf(dst + j, size - j, "%c", *s);
        }
        if (n < 0 || (size_t)n >= size - j)
            return -1;
        j += (size_t)n;
    }
    return 0;
}

/* Write the regions so far (and the running total) as one JSON object; caller holds the lock. */
static void write_counts(int at_exit)
{
    char path[4200], tmp[4300];
    FILE *f;
    if (!out_path[0] || expand_path(path, sizeof path) != 0)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f) {
        char msg[4400];
        snprintf(msg, sizeof msg, PLUGIN_NAME ": cannot write %s: %s\n", tmp, strerror(errno));
        fputs(msg, stderr);
        return;
    }
    fprintf(f, "{\"plugin\": \"%s\", \"plugin_revision\": %d, \"plugin_api\": %d, \"qemu_api_min\": %d, "
               "\"qemu_api_cur\": %d, \"mode\": \"%s\", \"vcpus\": %u, \"pid\": %ld, \"at_exit\": %s, "
               "\"region_open\": %s, \"total\": %" PRIu64 ", \"first_index\": %" PRIu64 ", \"regions\": [",
            PLUGIN_NAME, PLUGIN_REVISION, EDGEFER_QEMU_PLUGIN_API_VERSION, api_min, api_cur,
            per_insn ? "insn" : "tb", vcpus_seen, (long)getpid(), at_exit ? "true" : "false",
            region_open ? "true" : "false", counter, regions_written);
    for (size_t i = 0; i < n_regions; i++)
        fprintf(f, "%s%" PRIu64, i ? ", " : "", regions[i]);
    fprintf(f, "]}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return;
    }
    regions_written += n_regions;
    n_regions = 0;
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                       uint64_t a8)
{
    uint64_t now = counter;  /* first, so the bookkeeping below is never counted */
    (void)id; (void)vcpu_index; (void)a4; (void)a5; (void)a6; (void)a7; (void)a8;
    if (num != AARCH64_NR_LSEEK || (uint32_t)a1 != 0xffffffffU || a2 != MARKER_OFFSET ||
        ((uint32_t)a3 & 0xffff0000U) != MARKER_WHENCE)
        return;
    pthread_mutex_lock(&lock);
    switch ((uint32_t)a3 & 0xffffU) {
    case CMD_BEGIN:
        region_begin = now;
        region_open = 1;
        break;
    case CMD_END:
        if (region_open) {
            if (n_regions == cap_regions) {
                size_t cap = cap_regions ? 2 * cap_regions : 1024;
                uint64_t *grown = realloc(regions, cap * sizeof *regions);
                if (!grown)
                    break;
                regions = grown;
                cap_regions = cap;
            }
            regions[n_regions++] = now - region_begin;
            region_open = 0;
        }
        break;
    case CMD_WRITE:
        write_counts(0);
        break;
    }
    pthread_mutex_unlock(&lock);
}

static void on_exit_cb(qemu_plugin_id_t id, void *userdata)
{
    (void)id; (void)userdata;
    pthread_mutex_lock(&lock);
    write_counts(1);
    pthread_mutex_unlock(&lock);
}

EDGEFER_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    char msg[256];
    if (info->system_emulation || strcmp(info->target_name, "aarch64") != 0) {
        snprintf(msg, sizeof msg, PLUGIN_NAME ": only for qemu-aarch64 user mode (got %s%s)\n",
                 info->target_name, info->system_emulation ? ", system emulation" : "");
        fputs(msg, stderr);  /* qemu_plugin_outs() only reaches QEMU's log (-d plugin) */
        return -1;
    }
    api_min = info->version.min;
    api_cur = info->version.cur;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "out=", 4) == 0 && strlen(a + 4) < sizeof out_path) {
            strcpy(out_path, a + 4);
        } else if (strcmp(a, "mode=tb") == 0 || strcmp(a, "mode=insn") == 0) {
            per_insn = strcmp(a, "mode=insn") == 0;
        } else if (strcmp(a, "atexit=on") == 0 || strcmp(a, "atexit=off") == 0) {
            write_at_exit = strcmp(a, "atexit=on") == 0;
        } else {
            snprintf(msg, sizeof msg, PLUGIN_NAME ": unknown argument '%.100s' (out=PATH, mode=tb|insn, atexit=on|off)\n", a);
            fputs(msg, stderr);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    if (write_at_exit)
        qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
