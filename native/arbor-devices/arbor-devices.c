/* arbor-devices restricts the devices of a cgroup v2 group: it builds a BPF_CGROUP_DEVICE
 * program that allows exactly the rules given and denies every other device, loads it and
 * attaches it to the group. The program stays attached after the helper exits, until the
 * group is removed or another program replaces it.
 *
 * usage: arbor-devices --cgroup DIR [--log-fd N] RULE...
 *   DIR   a group of the unified hierarchy, like /sys/fs/cgroup/arbor/<handle>
 *   RULE  one argument in the syntax of v1's devices.allow: "TYPE MAJOR:MINOR ACCESS", like
 *         "c 1:3 rwm" or "c 136:* rwm"; TYPE is c, b or a (either), MAJOR and MINOR a number
 *         or *, ACCESS some of r (read), w (write), m (mknod)
 *
 * The program is attached without flags: attaching again (a create that runs twice)
 * replaces the program instead of stacking a second one, and no group below DIR can attach
 * a program of its own. Programs that ancestors attached with BPF_F_ALLOW_MULTI still run
 * too, and the kernel allows an access only when all of them allow it.
 *
 * Covered by: packages/backend-linux/src/device-rules.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RULES 64
/* each rule takes at most 9 instructions; 6 load the context, 2 end with a deny */
#define MAX_INSNS (6 + 9 * MAX_RULES + 2)
/* major and minor numbers are 12 and 20 bits: they fit the signed 32-bit immediates compared against */
#define MAX_MAJOR 0xfff
#define MAX_MINOR 0xfffff
#define ANY (-1L)

struct rule {
  int type;  /* BPF_DEVCG_DEV_* or 0 for any */
  long major, minor; /* ANY for * */
  int access; /* BPF_DEVCG_ACC_* bits */
};

static struct bpf_insn prog[MAX_INSNS];
static int ninsns;

static void emit(struct bpf_insn insn) {
  if (ninsns >= MAX_INSNS) {
    errno = 0;
    bail(EXIT_BAD_USAGE, "too many rules");
  }
  prog[ninsns++] = insn;
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

/* parse_number parses a major or minor number up to max, or '*' (ANY). */
static long parse_number(const char *text, size_t len, long max, const char *rule) {
  if (len == 1 && text[0] == '*') return ANY;
  long v = 0;
  if (len == 0 || len > 8) goto bad;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') goto bad;
    v = v * 10 + (text[i] - '0');
  }
  if (v <= max) return v;
bad:
  errno = 0;
  bail(EXIT_BAD_USAGE, "rule '%s': a device number must be * or 0 to %ld", rule, max);
}

/* parse_rule reads "c 1:3 rwm". */
static struct rule parse_rule(const char *text) {
  struct rule r;
  errno = 0;
  if (strlen(text) < 7 || text[1] != ' ') bail(EXIT_BAD_USAGE, "rule '%s' is not like 'c 1:3 rwm'", text);
  switch (text[0]) {
    case 'a': r.type = 0; break;
    case 'b': r.type = BPF_DEVCG_DEV_BLOCK; break;
    case 'c': r.type = BPF_DEVCG_DEV_CHAR; break;
    default: bail(EXIT_BAD_USAGE, "rule '%s': the type must be a, b or c", text);
  }
  const char *numbers = text + 2;
  const char *colon = strchr(numbers, ':');
  const char *space = colon ? strchr(colon, ' ') : NULL;
  if (!colon || !space) bail(EXIT_BAD_USAGE, "rule '%s' is not like 'c 1:3 rwm'", text);
  r.major = parse_number(numbers, (size_t)(colon - numbers), MAX_MAJOR, text);
  r.minor = parse_number(colon + 1, (size_t)(space - colon - 1), MAX_MINOR, text);
  r.access = 0;
  for (const char *a = space + 1; *a; a++) {
    int bit = *a == 'r' ? BPF_DEVCG_ACC_READ : *a == 'w' ? BPF_DEVCG_ACC_WRITE : *a == 'm' ? BPF_DEVCG_ACC_MKNOD : -1;
    if (bit < 0 || (r.access & bit)) bail(EXIT_BAD_USAGE, "rule '%s': the access must be some of r, w and m, each once", text);
    r.access |= bit;
  }
  if (r.access == 0) bail(EXIT_BAD_USAGE, "rule '%s' allows no access", text);
  return r;
}

/* Registers of the program: R2 the device type, R3 the access asked for, R4 the major, R5
 * the minor (all loaded once from the context in R1); R1 is then scratch, R0 the verdict. */
enum { R0, R1, R2, R3, R4, R5 };

static void emit_prologue(void) {
  emit(insn(BPF_LDX | BPF_W | BPF_MEM, R2, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0));
  emit(insn(BPF_ALU64 | BPF_AND | BPF_K, R2, 0, 0, 0xffff));
  emit(insn(BPF_LDX | BPF_W | BPF_MEM, R3, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0));
  emit(insn(BPF_ALU64 | BPF_RSH | BPF_K, R3, 0, 0, 16));
  emit(insn(BPF_LDX | BPF_W | BPF_MEM, R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major), 0));
  emit(insn(BPF_LDX | BPF_W | BPF_MEM, R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0));
}

/* emit_rule adds: when the device matches r and the access asked for is within r's, return 1
 * (allow); otherwise fall through to the next rule. Every jump goes to the block's end. */
static void emit_rule(const struct rule *r) {
  int jumps[4], njumps = 0;
  const int all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  if (r->type != 0) {
    jumps[njumps++] = ninsns;
    emit(insn(BPF_JMP | BPF_JNE | BPF_K, R2, 0, 0, r->type));
  }
  if (r->access != all) {
    /* any bit asked for outside the rule's access: no match */
    emit(insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R3, 0, 0));
    emit(insn(BPF_ALU64 | BPF_AND | BPF_K, R1, 0, 0, ~r->access));
    jumps[njumps++] = ninsns;
    emit(insn(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 0, 0));
  }
  if (r->major != ANY) {
    jumps[njumps++] = ninsns;
    emit(insn(BPF_JMP | BPF_JNE | BPF_K, R4, 0, 0, (int32_t)r->major));
  }
  if (r->minor != ANY) {
    jumps[njumps++] = ninsns;
    emit(insn(BPF_JMP | BPF_JNE | BPF_K, R5, 0, 0, (int32_t)r->minor));
  }
  emit(insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 1));
  emit(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  for (int i = 0; i < njumps; i++) prog[jumps[i]].off = (int16_t)(ninsns - jumps[i] - 1);
}

static long bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

static char verifier_log[65536];

/* load asks the kernel to verify and load the program; on refusal it loads again with the
 * verifier's log, to say why. */
static int load(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)prog;
  attr.insn_cnt = (uint32_t)ninsns;
  /* the program calls no kernel helper, so no GPL-only one: the license string is not checked */
  attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
  memcpy(attr.prog_name, "arbor_devices", sizeof "arbor_devices");
  int fd = (int)bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return fd;
  int saved = errno;
  attr.log_buf = (uint64_t)(uintptr_t)verifier_log;
  attr.log_size = sizeof verifier_log;
  attr.log_level = 1;
  if (bpf(BPF_PROG_LOAD, &attr) < 0 && verifier_log[0]) dprintf(STDERR_FILENO, "%s: verifier: %s\n", helper_name, verifier_log);
  errno = saved;
  return -1;
}

int main(int argc, char **argv) {
  helper_name = "arbor-devices";
  const char *cgroup = NULL;
  struct rule rules[MAX_RULES];
  int nrules = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int left = argc - i - 1;
    errno = 0;
    if (strcmp(a, "--cgroup") == 0 && left >= 1) cgroup = argv[++i];
    else if (strcmp(a, "--log-fd") == 0 && left >= 1) log_fd = (int)parse_int(argv[++i], "--log-fd");
    else if (strncmp(a, "--", 2) == 0) bail(EXIT_BAD_USAGE, "unknown or incomplete argument '%s'", a);
    else if (nrules < MAX_RULES) rules[nrules++] = parse_rule(a);
    else bail(EXIT_BAD_USAGE, "more than %d rules", MAX_RULES);
  }
  errno = 0;
  if (!cgroup) bail(EXIT_BAD_USAGE, "--cgroup is required");

  emit_prologue();
  for (int i = 0; i < nrules; i++) emit_rule(&rules[i]);
  emit(insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0));
  emit(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

  /* kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK, often 64 KiB: lift it (root may) */
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(RLIMIT_MEMLOCK, &unlimited) != 0) errno = 0;

  int dir = open(cgroup, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) bail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_HELPER_FAILED, "open cgroup %s", cgroup);
  int prog_fd = load();
  if (prog_fd < 0) bail(EXIT_HELPER_FAILED, "load the device program (a kernel without CONFIG_CGROUP_BPF?)");
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)dir;
  attr.attach_bpf_fd = (uint32_t)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = 0;
  if (bpf(BPF_PROG_ATTACH, &attr) != 0) bail(EXIT_HELPER_FAILED, "attach the device program to %s (not a group of the unified hierarchy?)", cgroup);
  char detail[64];
  snprintf(detail, sizeof detail, "%d rules, %d instructions", nrules, ninsns);
  log_event("attached", detail);
  return 0;
}
