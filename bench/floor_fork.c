/* floor_fork: the physical limit of a fork-per-connection server here.
 * Accept, fork, read the request head, write a fixed 1 KiB answer, close.
 * With a second argument 2 (floor_fork2), the connection process forks
 * once more: the child reads the head and tells its parent, which waits
 * for it and answers. That is the least a privilege-separated server
 * (a reader that can gain nothing, a parent that never reads) can cost.
 * usage: floor_fork PORT [2] (listens on 127.0.0.1) */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char answer[4096];

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	char head[8192], body[1024];
	size_t alen, got;
	ssize_t n;
	int twice = argc > 2 && atoi(argv[2]) == 2, sp[2];
	pid_t reader = 0;
	char ok = 0;

	memset(body, 'x', sizeof body);
	alen = snprintf(answer, sizeof answer, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
	    "Content-Length: 1024\r\nConnection: close\r\n\r\n%.1024s", body);
	sa.sin_port = htons(argc > 1 ? atoi(argv[1]) : 8080);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 1024))
		return 1;
	signal(SIGCHLD, SIG_IGN);	/* the kernel reaps the children */
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0 || fork() != 0) {
			if (cfd >= 0)
				close(cfd);
			continue;
		}
		close(lfd);
		signal(SIGCHLD, SIG_DFL);
		if (twice && (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 ||
		    (reader = fork()) < 0))
			_exit(1);
		if (twice && reader > 0) {
			/* The parent: one byte from the reader, then the answer. */
			close(sp[1]);
			if (read(sp[0], &ok, 1) == 1)
				(void)!write(cfd, answer, alen);
			waitpid(reader, NULL, 0);
			_exit(0);
		}
		for (got = 0; (n = read(cfd, head + got, sizeof head - 1 - got)) > 0;) {
			got += n;
			head[got] = '\0';
			if (strstr(head, "\r\n\r\n")) {
				if (twice)
					(void)!write(sp[1], "1", 1);
				else
					(void)!write(cfd, answer, alen);
				break;
			}
		}
		_exit(0);
	}
}
