/* floor_keepalive: the physical limit of a forking keep-alive server here.
 * Accept, fork, then for every request head on the connection write a
 * fixed answer (a 1 KiB body, or SIZE bytes up to 1 MiB) from memory in
 * one write, until the client closes.
 * usage: floor_keepalive PORT [SIZE] (listens on 127.0.0.1) */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char answer[128 + (1 << 20)];

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	char head[8192], *end;
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024, alen, got;
	ssize_t n;

	if (size > 1 << 20)
		return 2;
	alen = snprintf(answer, 128, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
	    "Content-Length: %zu\r\n\r\n", size);
	memset(answer + alen, 'x', size);
	alen += size;
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
				if (write(cfd, answer, alen) != (ssize_t)alen)
					_exit(1);
				got -= end + 4 - head;
				memmove(head, end + 4, got + 1);
			}
		}
		_exit(0);
	}
}
