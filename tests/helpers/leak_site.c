/* Test helper with a known leak site: leaky_fetch() opens connections and never closes
 * them; tidy_fetch() opens as many and closes each. Built with frame pointers and debug
 * info so sockleak --call-sites can name the function and line. Prints "READY", then
 * waits for stdin to close. Usage: sl_leak_site PORT COUNT [exec-holder]
 * exec-holder: a child execs sleep(1) for 20 s, holding the leaked sockets in another
 * binary, and this process closes its copies; prints "HOLDER <pid>" before READY. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback_connect.h"

void leaky_fetch(int port, int count)
{
	for (int i = 0; i < count; i++)
		open_connection(port); /* the leak: the fd is dropped, never closed */
}

void tidy_fetch(int port, int count)
{
	for (int i = 0; i < count; i++)
		close(open_connection(port));
}

int main(int argc, char **argv)
{
	char c;
	int port = argc > 1 ? atoi(argv[1]) : 0;
	int count = argc > 2 ? atoi(argv[2]) : 10;

	leaky_fetch(port, count);
	tidy_fetch(port, count);
	if (argc > 3 && strcmp(argv[3], "exec-holder") == 0) {
		pid_t holder = fork();

		if (holder == 0) {
			execl("/bin/sleep", "sleep", "20", (char *)NULL);
			_exit(1);
		}
		for (int fd = 3; fd < 3 + 2 * count + 16; fd++)
			close(fd);
		printf("HOLDER %d\n", (int)holder);
	}
	printf("READY\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
