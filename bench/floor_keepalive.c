/* floor_keepalive: the physical limit of a forking keep-alive server here.
 * Accept, fork, then for every request head on the connection write a
 * fixed answer, until the client closes: a 1 KiB body in the same write
 * as the head; with SIZE, the head then SIZE bytes of a file by sendfile,
 * as a static file server sends one.
 * usage: floor_keepalive PORT [SIZE] (listens on 127.0.0.1) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create */
#endif
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

static char answer[4096];

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0), file = -1;
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024, alen, got;
	char head[8192], *end;
	ssize_t n;

	alen = snprintf(answer, 128, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
	    "Content-Length: %zu\r\n\r\n", size);
	if (argc > 2) {		/* the body from a file in memory (page cache) */
		if ((file = memfd_create("body", 0)) < 0 || ftruncate(file, size) < 0)
			return 1;
	} else {
		memset(answer + alen, 'x', size);
		alen += size;
	}
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
		for (got = 0; (n = read(cfd, head + got, sizeof head - 1 - got)) > 0;) {
			got += n;
			head[got] = '\0';
			/* answer each complete head (pipelined ones too), keep the rest */
			while ((end = strstr(head, "\r\n\r\n")) != NULL) {
				off_t off = 0;
				if (send(cfd, answer, alen, file >= 0 ? MSG_MORE : 0) != (ssize_t)alen ||
				    (file >= 0 && sendfile(cfd, file, &off, size) != (ssize_t)size))
					_exit(1);
				got -= end + 4 - head;
				memmove(head, end + 4, got + 1);
			}
		}
		_exit(0);
	}
}
