// arbor-net: a long-lived rtnetlink helper for @arbor/network's LinuxNetworker.
//
// It reads one request per line on stdin and writes one reply line per request on stdout:
// "ok" or "err <errno> <message>". Running as a coprocess, each change costs a few netlink
// round trips (microseconds) instead of one `ip` process (milliseconds).
//
// Requests (tokens separated by single spaces; the TS side validates names and numbers):
//   bridge <name> <gatewayIp> <prefixLen> <mtu>
//       make a bridge (kept if it exists) with the gateway address, route_localnet on, up
//   veth <hostName> <bridge|-> <netnsPath> <containerIp> <prefixLen> <gatewayIp> <mtu> <group>
//       make a veth pair: <hostName> on the host in link group <group>, enslaved to <bridge>
//       or, with '-', holding the gateway address itself; its peer named eth0 inside the
//       namespace with the address, up, lo up, and a default route via the gateway
//   del <name>
//       delete a host link; a link that is not there is not an error
//   unwire <group> <hostVeth> <ifb> <bridge|->
//       queue the deletion of a container's host links (its peer goes with the veth), done in
//       batches by a reaper thread; the answer comes before the kernel is done
//   settle
//       answer once every queued deletion is done
//   shape <hostVeth> <ifbName> <rateBytesPerSecond> <burstBytes> <group>
//       limit both directions of the container's traffic (see do_shape); rate 0 removes it
//
// Covered by packages/network/src/linux-networker.int.spec.ts.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/if_ether.h>
#include <linux/veth.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TOKENS 10

static int host_ns_fd = -1;
static int host_nl = -1;
static uint32_t seq; // shared by both threads: taken atomically

// bail ends the helper when it cannot work at all; the TS runner reports stderr and the exit code.
static void bail(const char *what) {
  fprintf(stderr, "arbor-net: %s: %s\n", what, strerror(errno));
  exit(1);
}

// request is one netlink message; n points at the start of buf.
struct request {
  struct nlmsghdr *n;
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static struct rtattr *tail_of(struct nlmsghdr *n) {
  return (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
}

static void add_attr(struct nlmsghdr *n, unsigned short type, const void *data, size_t len) {
  struct rtattr *rta = tail_of(n);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  if (len > 0) memcpy(RTA_DATA(rta), data, len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void add_u32(struct nlmsghdr *n, unsigned short type, uint32_t v) { add_attr(n, type, &v, sizeof v); }

static void add_str(struct nlmsghdr *n, unsigned short type, const char *s) { add_attr(n, type, s, strlen(s) + 1); }

static struct rtattr *nest_begin(struct nlmsghdr *n, unsigned short type) {
  struct rtattr *nest = tail_of(n);
  add_attr(n, type, NULL, 0);
  return nest;
}

static void nest_end(struct nlmsghdr *n, struct rtattr *nest) {
  nest->rta_len = (unsigned short)((char *)tail_of(n) - (char *)nest);
}

static void init_request(struct request *r, uint16_t type, uint16_t flags, const void *header, size_t len) {
  memset(r->buf, 0, sizeof r->buf);
  r->n = (struct nlmsghdr *)r->buf;
  r->n->nlmsg_len = NLMSG_LENGTH(len);
  r->n->nlmsg_type = type;
  r->n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  r->n->nlmsg_seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
  memcpy(NLMSG_DATA(r->n), header, len);
}

// talk sends one request and waits for its ack; it returns 0 or a negative errno.
static int talk(int nl, struct request *r) {
  if (send(nl, r->n, r->n->nlmsg_len, 0) < 0) return -errno;
  char reply[8192];
  for (;;) {
    ssize_t got = recv(nl, reply, sizeof reply, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
      if (h->nlmsg_seq != r->n->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static int open_netlink(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// leave_netns returns this (single-threaded) process to the host namespace after a request
// entered a container's; sockets keep the namespace they were made in.
static void leave_netns(void) {
  if (setns(host_ns_fd, CLONE_NEWNET) < 0) bail("setns back to the host namespace");
}

static int set_link(int nl, int index, unsigned flags, unsigned change, int master) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = flags, .ifi_change = change};
  struct request r;
  init_request(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
  if (master > 0) add_u32(r.n, IFLA_MASTER, (uint32_t)master);
  return talk(nl, &r);
}

static int add_address(int nl, int index, struct in_addr addr, int prefix) {
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_index = (unsigned)index};
  struct request r;
  init_request(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa);
  add_attr(r.n, IFA_LOCAL, &addr, sizeof addr);
  add_attr(r.n, IFA_ADDRESS, &addr, sizeof addr);
  if (prefix < 31) {
    struct in_addr brd = {.s_addr = addr.s_addr | htonl(0xffffffffu >> prefix)};
    add_attr(r.n, IFA_BROADCAST, &brd, sizeof brd);
  }
  return talk(nl, &r);
}

static int add_default_route(int nl, int index, struct in_addr gateway) {
  struct rtmsg rtm = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
                      .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST};
  struct request r;
  init_request(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rtm, sizeof rtm);
  add_attr(r.n, RTA_GATEWAY, &gateway, sizeof gateway);
  add_u32(r.n, RTA_OIF, (uint32_t)index);
  return talk(nl, &r);
}

static int parse_ip(const char *text, struct in_addr *out) { return inet_pton(AF_INET, text, out) == 1 ? 0 : -EINVAL; }

static int parse_uint(const char *text, unsigned long long max, unsigned long long *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || end == text || v > max) return -EINVAL;
  *out = v;
  return 0;
}

// up_as_gateway brings a host link holding a gateway address up, with route_localnet on: a
// NetIn connection to 127.0.0.1, DNATed in OUTPUT, may then leave through it.
static int up_as_gateway(int index) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct request r;
  init_request(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
  struct rtattr *spec = nest_begin(r.n, IFLA_AF_SPEC);
  struct rtattr *inet = nest_begin(r.n, AF_INET);
  struct rtattr *conf = nest_begin(r.n, IFLA_INET_CONF);
  add_u32(r.n, IPV4_DEVCONF_ROUTE_LOCALNET, 1);
  nest_end(r.n, conf);
  nest_end(r.n, inet);
  nest_end(r.n, spec);
  return talk(host_nl, &r);
}

static void wait_for_reaper(uint32_t group);

static int do_bridge(char **t) {
  wait_for_reaper(0);
  struct in_addr gateway;
  unsigned long long prefix, mtu;
  if (parse_ip(t[2], &gateway) || parse_uint(t[3], 32, &prefix) || parse_uint(t[4], 65535, &mtu)) return -EINVAL;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  struct request r;
  init_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  add_str(r.n, IFLA_IFNAME, t[1]);
  add_u32(r.n, IFLA_MTU, (uint32_t)mtu);
  struct rtattr *info = nest_begin(r.n, IFLA_LINKINFO);
  add_str(r.n, IFLA_INFO_KIND, "bridge");
  nest_end(r.n, info);
  int rc = talk(host_nl, &r);
  if (rc < 0 && rc != -EEXIST) return rc;
  int index = (int)if_nametoindex(t[1]);
  if (!index) return -errno;
  if ((rc = add_address(host_nl, index, gateway, (int)prefix)) < 0) return rc;
  return up_as_gateway(index);
}

static int do_veth(char **t) {
  struct in_addr address, gateway;
  unsigned long long prefix, mtu, group;
  if (parse_ip(t[4], &address) || parse_uint(t[5], 32, &prefix) || parse_ip(t[6], &gateway) ||
      parse_uint(t[7], 65535, &mtu) || parse_uint(t[8], UINT32_MAX, &group))
    return -EINVAL;
  wait_for_reaper((uint32_t)group);
  int bridge = 0;
  if (strcmp(t[2], "-") != 0 && !(bridge = (int)if_nametoindex(t[2]))) return -errno;
  int ns = open(t[3], O_RDONLY | O_CLOEXEC);
  if (ns < 0) return -errno;

  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  struct request r;
  init_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  add_str(r.n, IFLA_IFNAME, t[1]);
  add_u32(r.n, IFLA_MTU, (uint32_t)mtu);
  add_u32(r.n, IFLA_GROUP, (uint32_t)group);
  struct rtattr *info = nest_begin(r.n, IFLA_LINKINFO);
  add_str(r.n, IFLA_INFO_KIND, "veth");
  struct rtattr *data = nest_begin(r.n, IFLA_INFO_DATA);
  struct rtattr *peer = nest_begin(r.n, VETH_INFO_PEER);
  struct ifinfomsg peer_ifi = {.ifi_family = AF_UNSPEC};
  memcpy(tail_of(r.n), &peer_ifi, sizeof peer_ifi);
  r.n->nlmsg_len += NLMSG_ALIGN(sizeof peer_ifi);
  add_str(r.n, IFLA_IFNAME, "eth0");
  add_u32(r.n, IFLA_MTU, (uint32_t)mtu);
  add_u32(r.n, IFLA_NET_NS_FD, (uint32_t)ns);
  nest_end(r.n, peer);
  nest_end(r.n, data);
  nest_end(r.n, info);
  int rc = talk(host_nl, &r);
  if (rc == -EEXIST) {
    // The namespace's old eth0 may be a peer still queued for deletion (a namespace wired
    // again after a destroy): wait for the reaper and try once more.
    wait_for_reaper(0);
    rc = talk(host_nl, &r);
  }
  if (rc < 0) {
    close(ns);
    return rc;
  }
  int host_index = (int)if_nametoindex(t[1]);
  if (!host_index) rc = -errno;
  if (rc == 0 && bridge) rc = set_link(host_nl, host_index, IFF_UP, IFF_UP, bridge);
  // Without a bridge the host veth itself holds the gateway address (a /30 of its own).
  if (rc == 0 && !bridge) rc = add_address(host_nl, host_index, gateway, (int)prefix);
  if (rc == 0 && !bridge) rc = up_as_gateway(host_index);
  if (rc == 0) rc = setns(ns, CLONE_NEWNET) < 0 ? -errno : 0;
  close(ns);
  if (rc < 0) return rc;
  // Inside the container's namespace from here until leave_netns.
  int nl = open_netlink();
  int eth0 = (int)if_nametoindex("eth0");
  int lo = (int)if_nametoindex("lo");
  if (nl < 0 || !eth0 || !lo) rc = -errno;
  if (rc == 0) rc = set_link(nl, lo, IFF_UP, IFF_UP, 0);
  if (rc == 0) rc = add_address(nl, eth0, address, (int)prefix);
  if (rc == 0) rc = set_link(nl, eth0, IFF_UP, IFF_UP, 0);
  if (rc == 0) rc = add_default_route(nl, eth0, gateway);
  if (nl >= 0) close(nl);
  leave_netns();
  return rc;
}

static int delete_link(const char *name) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  struct request r;
  init_request(&r, RTM_DELLINK, 0, &ifi, sizeof ifi);
  add_str(r.n, IFLA_IFNAME, name);
  int rc = talk(host_nl, &r);
  return rc == -ENODEV ? 0 : rc;
}

static int do_del(char **t) {
  wait_for_reaper(0);
  return delete_link(t[1]);
}

// Deleting links is slow: the kernel waits out an RCU grace period per batch (15-25 ms on a
// small VM), the same for `ip link del`. So unwire moves a container's links into the DOOMED
// link group and queues the container; a reaper thread deletes the whole DOOMED group in one
// batch, however many containers went into it meanwhile, while the main thread goes on
// answering. Requests that could meet a link still queued wait for it first: veth and shape
// for their own container (group), bridge and del for every queued one, settle likewise.
#define MAX_QUEUED 4096
#define DOOMED 0xfffffff0u
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_changed = PTHREAD_COND_INITIALIZER;
static uint32_t queued[MAX_QUEUED];
static int queued_count;
static int closing;
static int reaper_nl = -1;

static int group_queued(uint32_t group) {
  for (int i = 0; i < queued_count; i++)
    if (queued[i] == group) return 1;
  return 0;
}

// wait_for_reaper returns once group (or, with 0, every group) has left the queue.
static void wait_for_reaper(uint32_t group) {
  pthread_mutex_lock(&queue_lock);
  while (group ? group_queued(group) : queued_count > 0) pthread_cond_wait(&queue_changed, &queue_lock);
  pthread_mutex_unlock(&queue_lock);
}

static void *reap(void *unused) {
  (void)unused;
  pthread_mutex_lock(&queue_lock);
  for (;;) {
    while (queued_count == 0 && !closing) pthread_cond_wait(&queue_changed, &queue_lock);
    if (queued_count == 0) break;
    // Every queued container's links joined DOOMED before it was queued: one deletion takes them all.
    int taken = queued_count;
    pthread_mutex_unlock(&queue_lock);
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    struct request r;
    init_request(&r, RTM_DELLINK, 0, &ifi, sizeof ifi);
    add_u32(r.n, IFLA_GROUP, DOOMED);
    int rc = talk(reaper_nl, &r);
    if (rc < 0 && rc != -ENODEV) fprintf(stderr, "{\"event\":\"unwire-failed\",\"error\":\"%s\"}\n", strerror(-rc));
    pthread_mutex_lock(&queue_lock);
    queued_count -= taken;
    memmove(queued, queued + taken, (size_t)queued_count * sizeof queued[0]);
    pthread_cond_broadcast(&queue_changed);
  }
  pthread_mutex_unlock(&queue_lock);
  return NULL;
}

// do_unwire queues the deletion of a container's links (those of the names that exist) and
// answers before the kernel is done: see the reaper above.
static int do_unwire(char **t) {
  unsigned long long group;
  if (parse_uint(t[1], UINT32_MAX, &group) || group == 0 || group == DOOMED) return -EINVAL;
  for (int i = 2; i <= 4; i++) {
    if (strcmp(t[i], "-") == 0) continue;
    if (strlen(t[i]) >= IFNAMSIZ) return -ENAMETOOLONG;
    int index = (int)if_nametoindex(t[i]);
    if (!index) continue;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index};
    struct request r;
    init_request(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    add_u32(r.n, IFLA_GROUP, DOOMED);
    int rc = talk(host_nl, &r);
    if (rc < 0 && rc != -ENODEV) return rc;
  }
  pthread_mutex_lock(&queue_lock);
  int rc = 0;
  if (queued_count == MAX_QUEUED) rc = -EAGAIN;
  else if (!group_queued((uint32_t)group)) queued[queued_count++] = (uint32_t)group;
  pthread_cond_broadcast(&queue_changed);
  pthread_mutex_unlock(&queue_lock);
  return rc;
}

static int do_settle(char **t) {
  (void)t;
  wait_for_reaper(0);
  return 0;
}

// add_tbf replaces the root qdisc of index with a token bucket filter of rate and burst.
static int add_tbf(int index, unsigned long long rate, unsigned long long burst) {
  struct tcmsg tcm = {.tcm_family = AF_UNSPEC, .tcm_ifindex = index, .tcm_parent = TC_H_ROOT};
  struct request r;
  init_request(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, &tcm, sizeof tcm);
  add_str(r.n, TCA_KIND, "tbf");
  struct rtattr *opts = nest_begin(r.n, TCA_OPTIONS);
  struct tc_tbf_qopt q;
  memset(&q, 0, sizeof q);
  q.rate.rate = rate >= UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
  q.rate.linklayer = TC_LINKLAYER_ETHERNET;
  // limit queues what 25 ms at the rate sends, on top of the burst (like `tc ... latency 25ms`).
  unsigned long long limit = burst + rate / 40;
  q.limit = limit >= UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
  // buffer is in 64 ns scheduler ticks; the kernel recomputes it from TCA_TBF_BURST.
  unsigned long long ticks = burst * 1000000000ull / rate / 64;
  q.buffer = ticks >= UINT32_MAX ? UINT32_MAX : (uint32_t)ticks;
  add_attr(r.n, TCA_TBF_PARMS, &q, sizeof q);
  if (rate >= UINT32_MAX) {
    uint64_t rate64 = rate;
    add_attr(r.n, TCA_TBF_RATE64, &rate64, sizeof rate64);
  }
  add_u32(r.n, TCA_TBF_BURST, (uint32_t)burst);
  nest_end(r.n, opts);
  return talk(host_nl, &r);
}

static int del_qdisc(int index, uint32_t parent) {
  struct tcmsg tcm = {.tcm_family = AF_UNSPEC, .tcm_ifindex = index, .tcm_parent = parent};
  struct request r;
  init_request(&r, RTM_DELQDISC, 0, &tcm, sizeof tcm);
  int rc = talk(host_nl, &r);
  // The device has only its default qdisc: nothing of ours to remove.
  return rc == -ENOENT || rc == -EINVAL ? 0 : rc;
}

// redirect_ingress sends every packet arriving on index to the egress of ifb, where a tbf
// shapes it: an ingress qdisc, a u32 filter matching everything, a mirred redirect action.
static int redirect_ingress(int index, int ifb) {
  struct tcmsg tcm = {.tcm_family = AF_UNSPEC, .tcm_ifindex = index, .tcm_parent = TC_H_INGRESS,
                      .tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0)};
  struct request r;
  init_request(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tcm, sizeof tcm);
  add_str(r.n, TCA_KIND, "ingress");
  int rc = talk(host_nl, &r);
  if (rc < 0 && rc != -EEXIST) return rc;

  struct tcmsg filter = {.tcm_family = AF_UNSPEC, .tcm_ifindex = index, .tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0),
                         .tcm_handle = 0x80000800u, .tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL))};
  init_request(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &filter, sizeof filter);
  add_str(r.n, TCA_KIND, "u32");
  struct rtattr *opts = nest_begin(r.n, TCA_OPTIONS);
  struct {
    struct tc_u32_sel sel;
    struct tc_u32_key key;
  } match;
  memset(&match, 0, sizeof match);
  match.sel.flags = TC_U32_TERMINAL;
  match.sel.nkeys = 1;
  add_attr(r.n, TCA_U32_SEL, &match, sizeof match);
  struct rtattr *acts = nest_begin(r.n, TCA_U32_ACT);
  struct rtattr *act = nest_begin(r.n, 1);
  add_str(r.n, TCA_ACT_KIND, "mirred");
  struct rtattr *act_opts = nest_begin(r.n, TCA_ACT_OPTIONS);
  struct tc_mirred mirred;
  memset(&mirred, 0, sizeof mirred);
  mirred.action = TC_ACT_STOLEN;
  mirred.eaction = TCA_EGRESS_REDIR;
  mirred.ifindex = (uint32_t)ifb;
  add_attr(r.n, TCA_MIRRED_PARMS, &mirred, sizeof mirred);
  nest_end(r.n, act_opts);
  nest_end(r.n, act);
  nest_end(r.n, acts);
  nest_end(r.n, opts);
  rc = talk(host_nl, &r);
  return rc == -EEXIST ? 0 : rc;
}

// do_shape limits both directions of a container's traffic from the host side, where the
// container cannot undo it: a tbf on the host veth's egress (traffic to the container) and a
// tbf on an ifb fed from the veth's ingress (traffic from the container). Rate 0 removes both.
static int do_shape(char **t) {
  unsigned long long rate, burst, group;
  if (parse_uint(t[3], UINT64_MAX >> 1, &rate) || parse_uint(t[4], UINT32_MAX, &burst) ||
      parse_uint(t[5], UINT32_MAX, &group))
    return -EINVAL;
  if (strlen(t[2]) >= IFNAMSIZ) return -ENAMETOOLONG;
  wait_for_reaper((uint32_t)group);
  int veth = (int)if_nametoindex(t[1]);
  if (!veth) return -errno;
  int rc;
  if (rate == 0) {
    if ((rc = del_qdisc(veth, TC_H_INGRESS)) < 0) return rc;
    if ((rc = del_qdisc(veth, TC_H_ROOT)) < 0) return rc;
    return delete_link(t[2]);
  }
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct request r;
  init_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  add_str(r.n, IFLA_IFNAME, t[2]);
  add_u32(r.n, IFLA_GROUP, (uint32_t)group);
  struct rtattr *info = nest_begin(r.n, IFLA_LINKINFO);
  add_str(r.n, IFLA_INFO_KIND, "ifb");
  nest_end(r.n, info);
  rc = talk(host_nl, &r);
  if (rc < 0 && rc != -EEXIST) return rc;
  int ifb = (int)if_nametoindex(t[2]);
  if (!ifb) return -errno;
  if ((rc = set_link(host_nl, ifb, IFF_UP, IFF_UP, 0)) < 0) return rc;
  if ((rc = add_tbf(veth, rate, burst)) < 0) return rc;
  if ((rc = add_tbf(ifb, rate, burst)) < 0) return rc;
  return redirect_ingress(veth, ifb);
}

struct command {
  const char *name;
  int tokens;
  int (*run)(char **t);
};

static const struct command commands[] = {
    {"bridge", 5, do_bridge},
    {"veth", 9, do_veth},
    {"del", 2, do_del},
    {"unwire", 5, do_unwire},
    {"settle", 1, do_settle},
    {"shape", 6, do_shape},
};

static int dispatch(char *line) {
  char *t[MAX_TOKENS];
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    if (n == MAX_TOKENS) return -E2BIG;
    t[n++] = tok;
  }
  if (n == 0) return -EINVAL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(t[0], commands[i].name) != 0) continue;
    if (n != commands[i].tokens) return -EINVAL;
    if (n > 1 && strlen(t[1]) >= IFNAMSIZ) return -ENAMETOOLONG;
    return commands[i].run(t);
  }
  return -EOPNOTSUPP;
}

int main(void) {
  host_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (host_ns_fd < 0) bail("open /proc/self/ns/net");
  host_nl = open_netlink();
  if (host_nl < 0) bail("netlink socket");
  reaper_nl = open_netlink();
  if (reaper_nl < 0) bail("netlink socket");
  // The reaper starts here, in the host namespace, and stays there: setns is per thread.
  pthread_t reaper;
  if ((errno = pthread_create(&reaper, NULL, reap, NULL)) != 0) bail("pthread_create");
  setvbuf(stdout, NULL, _IOLBF, 0);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
    int rc = dispatch(line);
    if (rc == 0)
      printf("ok\n");
    else
      printf("err %d %s\n", -rc, strerror(-rc));
  }
  free(line);
  pthread_mutex_lock(&queue_lock);
  closing = 1;
  pthread_cond_broadcast(&queue_changed);
  pthread_mutex_unlock(&queue_lock);
  pthread_join(reaper, NULL);
  return 0;
}
