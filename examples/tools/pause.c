/* pause — a container that does nothing until it is told to stop, like
 * Kubernetes' pause image: what density benchmarks run (bench/lab.sh), so
 * that they measure starting containers and not the workload.
 *
 * It sleeps in sigwaitinfo(). SIGTERM and SIGINT end it with status 0 (as pid
 * 1 of a container a signal without a handler is ignored, so it must ask for
 * them); SIGCHLD reaps whatever child was orphaned onto it.
 *
 *   pause
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	sigset_t set;
	siginfo_t si;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: pause (no arguments; SIGTERM or SIGINT ends it)\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		int sig = sigwaitinfo(&set, &si);
		if (sig == SIGTERM || sig == SIGINT)
			return 0;
		if (sig == SIGCHLD)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
	}
}
