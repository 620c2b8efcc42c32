/* execwatch.c — the kernel's exec and exit events, one a line, for the
 * benchmarks (bench/agent.sh): what is timed is what the kernel saw, not
 * when a status reached a client.
 *
 * Subscribes to the netlink process connector (CN_IDX_PROC, needs root and
 * the initial network namespace) and prints, line-buffered,
 *
 *     ready                          once subscribed
 *     exec TS_NS PID COMM            a process (thread group PID) exec'ed
 *                                    (COMM: its name read just after, "?")
 *     exit TS_NS PID CODE SIGNAL     a process (its thread group leader) ended
 *     lost                           the socket overflowed: events were lost
 *
 * TS_NS is the kernel's timestamp of the event, CLOCK_MONOTONIC in ns. It
 * runs until SIGTERM, SIGINT or a closed stdout.
 * Usage: skiff-execwatch
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int subscribe(int fd, enum proc_cn_mcast_op op)
{
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	memset(&msg, 0, sizeof(msg));
	msg.nl.nlmsg_len = sizeof(msg);
	msg.nl.nlmsg_type = NLMSG_DONE;
	msg.nl.nlmsg_pid = (__u32)getpid();
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof(op);
	msg.op = op;
	return send(fd, &msg, sizeof(msg), 0) == (ssize_t)sizeof(msg) ? 0 : -errno;
}

static void print_event(const struct proc_event *ev)
{
	unsigned long long ts = (unsigned long long)ev->timestamp_ns;
	switch (ev->what) {
	case PROC_EVENT_EXEC: {
		/* its name now, if it still runs ("?" when it is gone) */
		char path[64], comm[32] = "?";
		snprintf(path, sizeof(path), "/proc/%d/comm", ev->event_data.exec.process_tgid);
		FILE *f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				strcpy(comm, "?");
			comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		printf("exec %llu %d %s\n", ts, ev->event_data.exec.process_tgid, comm);
		break;
	}
	case PROC_EVENT_EXIT:
		/* a thread's exit is not the process's */
		if (ev->event_data.exit.process_pid != ev->event_data.exit.process_tgid)
			break;
		printf("exit %llu %d %u %u\n", ts, ev->event_data.exit.process_tgid,
		       ev->event_data.exit.exit_code >> 8 & 0xff,
		       ev->event_data.exit.exit_code & 0x7f);
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: skiff-execwatch (no arguments)\n");
		return 2;
	}
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0) {
		fprintf(stderr, "skiff-execwatch: netlink connector socket: %s\n", strerror(errno));
		return 1;
	}
	int rcvbuf = 8 << 20; /* a burst of forks must not overflow it */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = CN_IDX_PROC,
				  .nl_pid = (__u32)getpid() };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "skiff-execwatch: bind to the process connector: %s\n",
			strerror(errno));
		return 1;
	}
	int r = subscribe(fd, PROC_CN_MCAST_LISTEN);
	if (r < 0) {
		fprintf(stderr, "skiff-execwatch: subscribe to process events: %s\n", strerror(-r));
		return 1;
	}
	struct sigaction act = { .sa_handler = on_signal };
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");

	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	while (!stop) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				printf("lost\n");
				continue;
			}
			fprintf(stderr, "skiff-execwatch: recv: %s\n", strerror(errno));
			break;
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_NOOP)
				continue;
			struct cn_msg *cn = NLMSG_DATA(nh);
			if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
			    cn->len < sizeof(struct proc_event))
				continue;
			print_event((const struct proc_event *)cn->data);
		}
		if (ferror(stdout))
			break;
	}
	(void)subscribe(fd, PROC_CN_MCAST_IGNORE);
	close(fd);
	return 0;
}
