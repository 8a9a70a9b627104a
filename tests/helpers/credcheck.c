/* tests/helpers/credcheck.c: a CGI program that reports, from inside, what
 * it runs as: its credentials, capabilities and no_new_privs from
 * /proc/self/status, its open fds, its signal masks and its directory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const keys[] = { "Uid:", "Gid:", "Groups:", "CapInh:",
    "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "SigBlk:",
    "SigIgn:" };

int
main(void)
{
	char line[512], cwd[4096];
	FILE *f;
	DIR *d;
	struct dirent *e;
	size_t i;
	int self;

	printf("Content-Type: text/plain\r\n\r\n");
	if ((f = fopen("/proc/self/status", "r")) != NULL) {
		while (fgets(line, sizeof(line), f))
			for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				if (strncmp(line, keys[i], strlen(keys[i])) == 0)
					fputs(line, stdout);
		fclose(f);
	}
	/* The directory stream's own fd is not one the script was given. */
	printf("Fds:");
	if ((d = opendir("/proc/self/fd")) != NULL) {
		self = dirfd(d);
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' && atoi(e->d_name) != self)
				printf(" %s", e->d_name);
		closedir(d);
	}
	printf("\n");
	printf("Cwd:\t%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	return 0;
}
