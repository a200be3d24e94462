/* seccomp-gen compiles seccomp-profile.txt (its header gives the format) into the BPF program of
 * the container's seccomp filter and writes it as a C header that seccomp.c includes. libseccomp
 * runs here, once, at build time: starting a process only hands the ready program to the kernel.
 * It resolves names as runc does with the same libseccomp (a name it does not know is left out)
 * and puts runc's ENOSYS rule in front: a call numbered above the highest one the profile names,
 * on that architecture, answers ENOSYS rather than the default EPERM.
 * usage: seccomp-gen PROFILE HEADER   (run by seccomp.mk; HEADER is replaced atomically)
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts and
 * packages/backend-runc/src/runc-containerizer.int.spec.ts (the seccomp allowlist blocks). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HOST "x86_64"
#elif defined(__aarch64__)
#define HOST "aarch64"
#else
#error "seccomp-gen: Arbor builds its seccomp filter on x86_64 and aarch64 hosts only"
#endif

#define MAX_TOKENS 64
#define MAX_ARCHES 4
#define MAX_NAMES 1024
#define X32_BIT 0x40000000u

static const char *profile_path;
static int line_no;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (line_no > 0) fprintf(stderr, "seccomp-gen: %s:%d: ", profile_path, line_no);
  else fprintf(stderr, "seccomp-gen: %s: ", profile_path);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static uint64_t number(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  /* decimal or 0x only, as runc-config.ts reads it: a leading 0 is no octal here */
  int octal = s[0] == '0' && s[1] != '\0' && s[1] != 'x';
  if (errno || *s == '\0' || *end != '\0' || *s == '-' || octal || v > (1ULL << 53)) die("'%s' is not a number", s);
  return v;
}

/* line is one rule of the profile, split at blanks, without its "on HOST..." part. */
struct line {
  char *tok[MAX_TOKENS];
  int n;
  int for_host; /* no "on", or "on" naming this host */
};

static int split(char *text, struct line *l) {
  char *hash = strchr(text, '#');
  if (hash) *hash = '\0';
  l->n = 0;
  for (char *t = strtok(text, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
    if (l->n == MAX_TOKENS) die("more than %d words", MAX_TOKENS);
    l->tok[l->n++] = t;
  }
  l->for_host = 1;
  for (int i = 0; i < l->n; i++) {
    if (strcmp(l->tok[i], "on") != 0) continue;
    if (i + 1 == l->n) die("'on' names no host");
    l->for_host = 0;
    for (int j = i + 1; j < l->n; j++)
      if (strcmp(l->tok[j], HOST) == 0) l->for_host = 1;
    l->n = i;
  }
  return l->n;
}

/* arches are the filter's architectures, max_nr the highest call number each knows by a name. */
static uint32_t arches[MAX_ARCHES];
static int narches;
static int64_t max_nr[MAX_ARCHES];

/* names records each name once: a second rule for a name is an error unless both have conditions. */
static struct {
  const char *name;
  int conditional;
} seen[MAX_NAMES];
static int nseen;
static const char *unknown[MAX_NAMES];
static uint32_t default_action;
static int nunknown;

static void note_name(const char *name, int conditional) {
  for (int i = 0; i < nseen; i++) {
    if (strcmp(seen[i].name, name) != 0) continue;
    if (!conditional || !seen[i].conditional) die("%s has a rule already", name);
    return;
  }
  if (nseen == MAX_NAMES) die("more than %d names", MAX_NAMES);
  seen[nseen].name = strdup(name);
  seen[nseen++].conditional = conditional;
}

/* add_rule adds action for name under at most one comparison; a name libseccomp does not know
 * is only noted. */
static void add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, int conditional, struct scmp_arg_cmp cmp) {
  note_name(name, conditional);
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) {
    for (int i = 0; i < nunknown; i++)
      if (strcmp(unknown[i], name) == 0) return;
    unknown[nunknown++] = strdup(name);
    return;
  }
  for (int a = 0; a < narches; a++) {
    int on_arch = seccomp_syscall_resolve_name_arch(arches[a], name);
    if (on_arch > max_nr[a]) max_nr[a] = on_arch;
  }
  /* a deny is the default already, which libseccomp refuses to repeat (runc skips it too) */
  if (action == default_action) return;
  int rc = seccomp_rule_add_array(ctx, action, nr, conditional ? 1 : 0, &cmp);
  if (rc != 0) die("%s: libseccomp refuses the rule: %s", name, strerror(-rc));
}

/* condition parses "if aI OP V..." (tok[0] is "if") into one comparison per value. */
static int condition(char **tok, int n, struct scmp_arg_cmp *out, int max) {
  if (n < 4 || strcmp(tok[0], "if") != 0 || tok[1][0] != 'a' || tok[1][1] < '0' || tok[1][1] > '5' || tok[1][2] != '\0')
    die("a condition is 'if aI OP VALUE' with I from 0 to 5");
  unsigned arg = (unsigned)(tok[1][1] - '0');
  if (strcmp(tok[2], "&") == 0) {
    if (n != 6 || strcmp(tok[4], "==") != 0) die("a masked condition is 'if aI & MASK == VALUE'");
    out[0] = (struct scmp_arg_cmp){arg, SCMP_CMP_MASKED_EQ, number(tok[3]), number(tok[5])};
    return 1;
  }
  static const struct {
    const char *op;
    enum scmp_compare cmp;
  } ops[] = {{"==", SCMP_CMP_EQ}, {"!=", SCMP_CMP_NE}, {"<", SCMP_CMP_LT}, {"<=", SCMP_CMP_LE}, {">", SCMP_CMP_GT}, {">=", SCMP_CMP_GE}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    if (strcmp(tok[2], ops[i].op) != 0) continue;
    if (ops[i].cmp != SCMP_CMP_EQ && n != 4) die("only == takes several values");
    if (n - 3 > max) die("too many values");
    for (int v = 3; v < n; v++) out[v - 3] = (struct scmp_arg_cmp){arg, ops[i].cmp, number(tok[v]), 0};
    return n - 3;
  }
  die("unknown comparison '%s'", tok[2]);
  return 0;
}

static void rule(scmp_filter_ctx ctx, struct line *l) {
  uint32_t action;
  int first = 1;
  if (strcmp(l->tok[0], "allow") == 0) action = SCMP_ACT_ALLOW;
  else if (strcmp(l->tok[0], "deny") == 0) action = SCMP_ACT_ERRNO(EPERM);
  else if (strcmp(l->tok[0], "errno") == 0 && l->n >= 3) {
    uint64_t e = number(l->tok[1]);
    if (e == 0 || e > 4095) die("errno %s is out of range", l->tok[1]);
    action = SCMP_ACT_ERRNO((uint16_t)e);
    first = 2;
  } else die("unknown rule '%s'", l->tok[0]);
  int end = first;
  while (end < l->n && strcmp(l->tok[end], "if") != 0) end++;
  if (end == first) die("a rule names no call");
  if (end == l->n) {
    for (int i = first; i < end; i++) add_rule(ctx, action, l->tok[i], 0, (struct scmp_arg_cmp){0});
    return;
  }
  if (end != first + 1) die("a rule with a condition names one call");
  if (action != SCMP_ACT_ALLOW) die("only allow takes a condition");
  struct scmp_arg_cmp cmps[MAX_TOKENS];
  int ncmps = condition(&l->tok[end], l->n - end, cmps, MAX_TOKENS);
  for (int i = 0; i < ncmps; i++) add_rule(ctx, action, l->tok[first], 1, cmps[i]);
}

/* ---- the ENOSYS stub: a few instructions in front of libseccomp's program, with labels */

#define MAX_STUB 64
enum { L_ENOSYS = 0, L_FILTER = 1, L_FIRST_FREE = 2 };
static struct {
  uint16_t code;
  int jt, jf; /* labels, or -1 for the next instruction */
  uint32_t k;
} stub[MAX_STUB];
static int nstub;
static int label_at[MAX_STUB];
static int nlabels = L_FIRST_FREE;

static void emit(uint16_t code, uint32_t k, int jt, int jf) {
  if (nstub == MAX_STUB) die("the ENOSYS stub is too long");
  stub[nstub].code = code;
  stub[nstub].k = k;
  stub[nstub].jt = jt;
  stub[nstub++].jf = jf;
}

static void emit_ja(int label) { emit(BPF_JMP | BPF_JA, 0, label, -1); }

/* emit_above sends calls numbered above max to ENOSYS and the rest to the filter; with no
 * known call (max 0) all go to the filter. */
static void emit_above(int64_t max) {
  if (max > 0) emit(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max, L_ENOSYS, L_FILTER);
  else emit_ja(L_FILTER);
}

static int new_label(void) { return nlabels++; }
static void place(int label) { label_at[label] = nstub; }

static uint8_t offset(int at, int label) {
  int to = label < 0 ? at + 1 : label_at[label];
  if (to <= at || to - at - 1 > 255) die("stub jump out of range");
  return (uint8_t)(to - at - 1);
}

/* audit_arch is the arch field of seccomp_data for a libseccomp arch (x32 shares x86_64's). */
static uint32_t audit_arch(uint32_t arch) { return arch == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : arch; }

/* enosys_stub: for each architecture, a call numbered above max_nr answers ENOSYS; everything
 * else goes on to libseccomp's program, which checks the architecture again. */
static void enosys_stub(void) {
  emit(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), -1, -1);
  int done[MAX_ARCHES] = {0};
  for (int a = 0; a < narches; a++) {
    if (done[a]) continue;
    uint32_t audit = audit_arch(arches[a]);
    /* plain and x32 calls of one audit arch: the x32 ones carry X32_BIT in their numbers */
    int64_t plain = -1, x32 = -1;
    for (int b = a; b < narches; b++) {
      if (audit_arch(arches[b]) != audit) continue;
      done[b] = 1;
      if (arches[b] == SCMP_ARCH_X32) x32 = max_nr[b];
      else plain = max_nr[b];
    }
    int next = new_label();
    emit(BPF_JMP | BPF_JEQ | BPF_K, audit, -1, next);
    emit(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), -1, -1);
    if (audit == AUDIT_ARCH_X86_64) {
      int is_x32 = new_label();
      emit(BPF_JMP | BPF_JSET | BPF_K, X32_BIT, is_x32, -1);
      emit_above(plain);
      place(is_x32);
      emit_above(x32);
    } else {
      emit_above(plain);
    }
    place(next);
  }
  emit_ja(L_FILTER);
  place(L_ENOSYS);
  emit(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, -1, -1);
  place(L_FILTER);
}

/* stub_insn resolves the labels of stub instruction i. */
static struct sock_filter stub_insn(int i) {
  struct sock_filter f = {.code = stub[i].code, .k = stub[i].k};
  if (BPF_CLASS(f.code) == BPF_JMP && BPF_OP(f.code) == BPF_JA) {
    f.k = offset(i, stub[i].jt);
  } else if (BPF_CLASS(f.code) == BPF_JMP) {
    f.jt = offset(i, stub[i].jt);
    f.jf = offset(i, stub[i].jf);
  }
  return f;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: seccomp-gen PROFILE HEADER\n");
    return 2;
  }
  profile_path = argv[1];
  FILE *in = fopen(profile_path, "re");
  if (!in) die("open: %s", strerror(errno));
  static char *lines[4096];
  int nlines = 0;
  char *buf = NULL;
  size_t cap = 0;
  while (getline(&buf, &cap, in) >= 0) {
    if (nlines == 4096) die("too many lines");
    lines[nlines++] = strdup(buf);
  }
  fclose(in);

  /* first the default and the architectures, which the filter is made with */
  long def_errno = -1;
  for (line_no = 1; line_no <= nlines; line_no++) {
    struct line l;
    char *copy = strdup(lines[line_no - 1]);
    if (split(copy, &l) == 0 || !l.for_host) continue;
    if (strcmp(l.tok[0], "default") == 0) {
      if (l.n != 3 || strcmp(l.tok[1], "errno") != 0) die("the default is 'default errno N'");
      def_errno = (long)number(l.tok[2]);
    } else if (strcmp(l.tok[0], "arch") == 0) {
      for (int i = 1; i < l.n; i++) {
        if (narches == MAX_ARCHES) die("too many architectures");
        uint32_t arch = seccomp_arch_resolve_name(l.tok[i]);
        if (arch == 0) die("unknown architecture %s", l.tok[i]);
        arches[narches++] = arch;
      }
    }
  }
  line_no = 0;
  if (def_errno <= 0 || def_errno > 4095) die("no 'default errno N' line");
  if (narches == 0) die("no 'arch ... on %s' line", HOST);

  default_action = SCMP_ACT_ERRNO((uint16_t)def_errno);
  scmp_filter_ctx ctx = seccomp_init(default_action);
  if (!ctx) die("seccomp_init failed");
  uint32_t native = seccomp_arch_native();
  int has_native = 0;
  for (int a = 0; a < narches; a++) {
    if (arches[a] == native) has_native = 1;
    else if (seccomp_arch_add(ctx, arches[a]) != 0) die("cannot add architecture %u", arches[a]);
  }
  if (!has_native) seccomp_arch_remove(ctx, native);
  /* a binary tree of the calls: a call is found in about log2(350) comparisons, not a walk */
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) != 0) die("cannot ask for the binary-tree filter");

  for (line_no = 1; line_no <= nlines; line_no++) {
    struct line l;
    if (split(lines[line_no - 1], &l) == 0 || !l.for_host) continue;
    if (strcmp(l.tok[0], "default") == 0 || strcmp(l.tok[0], "arch") == 0) continue;
    rule(ctx, &l);
  }
  line_no = 0;

  FILE *bpf = tmpfile();
  if (!bpf) die("tmpfile: %s", strerror(errno));
  int rc = seccomp_export_bpf(ctx, fileno(bpf));
  if (rc != 0) die("seccomp_export_bpf: %s", strerror(-rc));
  struct stat st;
  if (fstat(fileno(bpf), &st) != 0 || st.st_size % sizeof(struct sock_filter) != 0) die("the exported program is cut short");
  size_t nprog = (size_t)st.st_size / sizeof(struct sock_filter);
  struct sock_filter *prog = malloc((size_t)st.st_size);
  if (!prog || pread(fileno(bpf), prog, (size_t)st.st_size, 0) != st.st_size) die("read the exported program");

  enosys_stub();
  size_t total = (size_t)nstub + nprog;
  if (total > BPF_MAXINSNS) die("the filter has %zu instructions, more than the kernel's %d", total, BPF_MAXINSNS);

  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", argv[2], (int)getpid());
  FILE *out = fopen(tmp, "we");
  if (!out) die("create %s: %s", tmp, strerror(errno));
  const struct scmp_version *v = seccomp_version();
  fprintf(out, "/* container-seccomp.h: made by native/common/seccomp-gen from %s with libseccomp %u.%u.%u, for %s hosts.\n",
          profile_path, v->major, v->minor, v->micro, HOST);
  fprintf(out, " * Do not edit: edit the profile. Unknown to this libseccomp, so left out:");
  for (int i = 0; i < nunknown; i++) fprintf(out, "%s%s", i % 8 == 0 ? "\n *  " : " ", unknown[i]);
  fprintf(out, "\n * ENOSYS above call");
  for (int a = 0; a < narches; a++) fprintf(out, "%s%lld", a ? ", " : " ", (long long)max_nr[a]);
  fprintf(out, " (in the order of the arch line). */\n");
  fprintf(out, "#define CONTAINER_SECCOMP_LEN %zu\n", total);
  fprintf(out, "static const struct sock_filter container_seccomp[CONTAINER_SECCOMP_LEN] = {\n");
  for (size_t i = 0; i < total; i++) {
    struct sock_filter f = i < (size_t)nstub ? stub_insn((int)i) : prog[i - (size_t)nstub];
    fprintf(out, "    {0x%04x, %u, %u, 0x%08x},\n", f.code, f.jt, f.jf, f.k);
  }
  fprintf(out, "};\n");
  if (fclose(out) != 0 || rename(tmp, argv[2]) != 0) {
    unlink(tmp);
    die("write %s: %s", argv[2], strerror(errno));
  }
  seccomp_release(ctx);
  return 0;
}
