/* Test helper for `sockleak exec`: a C program whose sockets to a loopback server that
 * closes every connection (sl_http_server --idle-close-ms 1) reach CLOSE_WAIT. Built with
 * frame pointers and debug info, so call sites name leaky_connect().
 * Usage: sl_exec_leaker PORT MODE [COUNT]
 *   leak       leaky_connect() COUNT times, wait until the peer closed each, exit: the exit
 *              closes them (never closed by the program)
 *   linger     the same, but stay 2.5 s first (they linger past a 1 s threshold)
 *   tidy       connect COUNT times, wait for the peer's close, close each, exit 0
 *   fork-leak  print "CHILD <pid>" for a child that does `leak`; wait for it; exit 0
 *   exit N     exit with status N (COUNT is the status) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loopback_connect.h"

#define MAX_CONNECTIONS 256

/* The leak: connections whose fds the caller keeps but never closes. */
void leaky_connect(int port, int count, int *fds)
{
	for (int i = 0; i < count; i++)
		fds[i] = open_connection(port);
}

/* Until the peer's FIN arrived on every socket (CLOSE_WAIT), at most 5 s. */
static void wait_for_peer_close(const int *fds, int count)
{
	for (int waited = 0; waited < 500; waited++) {
		int open = 0;
		char c;

		for (int i = 0; i < count; i++) {
			ssize_t n = recv(fds[i], &c, 1, MSG_PEEK | MSG_DONTWAIT);

			if (n != 0 && !(n < 0 && errno != EAGAIN))
				open++;
		}
		if (!open)
			return;
		usleep(10000);
	}
	fprintf(stderr, "sl_exec_leaker: the server did not close\n");
	exit(1);
}

static void leak(int port, int count, int linger_ms)
{
	int fds[MAX_CONNECTIONS];

	leaky_connect(port, count, fds);
	wait_for_peer_close(fds, count);
	if (linger_ms)
		usleep((useconds_t)linger_ms * 1000);
	/* exit() closes nothing: the kernel's exit does. */
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sl_exec_leaker PORT MODE [COUNT]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	const char *mode = argv[2];
	int count = argc > 3 ? atoi(argv[3]) : 3;

	if (count > MAX_CONNECTIONS)
		count = MAX_CONNECTIONS;
	if (strcmp(mode, "leak") == 0) {
		leak(port, count, 0);
	} else if (strcmp(mode, "linger") == 0) {
		leak(port, count, 2500);
	} else if (strcmp(mode, "tidy") == 0) {
		int fds[MAX_CONNECTIONS];

		for (int i = 0; i < count; i++)
			fds[i] = open_connection(port);
		wait_for_peer_close(fds, count);
		for (int i = 0; i < count; i++)
			close(fds[i]);
	} else if (strcmp(mode, "fork-leak") == 0) {
		pid_t child = fork();

		if (child == 0) {
			leak(port, count, 0);
			_exit(0);
		}
		printf("CHILD %d\n", (int)child);
		fflush(stdout);
		waitpid(child, NULL, 0);
	} else if (strcmp(mode, "exit") == 0) {
		return count;
	} else {
		fprintf(stderr, "sl_exec_leaker: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
