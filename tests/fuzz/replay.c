/* tests/fuzz/replay.c: a main() for a libFuzzer target built without
 * libFuzzer, so `make check` replays every seed and every past finding
 * through the same LLVMFuzzerTestOneInput with the normal compiler and
 * flags (and ASan/UBSan under SANITIZE=1).
 *
 * usage: replay_NAME DIR|FILE...
 * Each input runs in a child of its own, so one crash is reported with
 * its file name and the rest still run. Prints one "ok" line per
 * argument, or a "FAIL" line per input that crashed, hung or aborted;
 * exits 3 if any did (any other failure is the replay program's own).
 * A missing directory counts as empty. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#define FUZZ_NAME "target"
#endif
#define INPUT_MAX (1u << 20)    /* libFuzzer's default -max_len is far less */
#define INPUT_SECONDS 10        /* a hang is a finding too */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target; libFuzzer calls it once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int nfail;

/* The whole file into a buffer of exactly its size, so ASan sees reads
 * past the end as the fuzzer would. */
static int
run_file(const char *path)
{
	static unsigned char buf[INPUT_MAX];
	unsigned char *copy;
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || !feof(f)) {
		fclose(f);
		errno = EFBIG;
		return -1;
	}
	fclose(f);
	if ((copy = malloc(n ? n : 1)) == NULL)
		return -1;
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

/* One input in a child: 0 if it came back clean, -1 (and a FAIL) if not. */
static int
replay(const char *path)
{
	pid_t pid;
	int status;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		printf("FAIL %s %s: fork: %s\n", FUZZ_NAME, path, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		alarm(INPUT_SECONDS);
		if (run_file(path) < 0) {
			printf("FAIL %s %s: %s\n", FUZZ_NAME, path, strerror(errno));
			fflush(stdout);
			_exit(2);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		printf("FAIL %s %s: %s\n", FUZZ_NAME, path,
		    WTERMSIG(status) == SIGALRM ? "hung" : strsignal(WTERMSIG(status)));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
		printf("FAIL %s %s: exit status %d\n", FUZZ_NAME, path,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order so runs are comparable.
 * Returns the count of inputs replayed, or -1 if dir cannot be read. */
static int
replay_dir(const char *dir, int *bad)
{
	char path[4096], **names = NULL, **more;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((more = realloc(names, cap * sizeof(*names))) == NULL)
				goto err;
			names = more;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto err;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && replay(path) < 0)
			(*bad)++;
		free(names[i]);
	}
	free(names);
	return (int)n;
err:
	while (n > 0)
		free(names[--n]);
	free(names);
	if (d != NULL)
		closedir(d);
	return -1;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, n, bad;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		bad = 0;
		if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
			n = replay(argv[i]) < 0 ? (bad = 1) : 1;
		else
			n = replay_dir(argv[i], &bad);
		if (n < 0) {
			printf("FAIL %s %s: %s\n", FUZZ_NAME, argv[i], strerror(errno));
			bad = 1;
		} else if (bad == 0) {
			printf("ok %s replays %d inputs of %s\n", FUZZ_NAME, n, argv[i]);
		}
		nfail += bad;
	}
	return nfail != 0 ? 3 : 0;
}
