/* tests/unit_score.c: the name a connection process gives itself, and the
 * master's reading of it. The master reads a name a child chose, and a
 * child may be compromised: only "itkd G/P" of this config names a vhost. */
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "score.h"
#include "unit.h"

/* The vhost score_vhost_of finds for a child that named itself `name`
 * (NULL: through score_enter_vhost for vhost 7) and ended, read before it
 * is reaped, as the master does. */
static int
vhost_of_child(const char *name)
{
	siginfo_t si;
	pid_t pid;
	int pos;

	if ((pid = fork()) < 0)
		return -2;
	if (pid == 0) {
		if (name != NULL)
			prctl(PR_SET_NAME, name, 0, 0, 0);
		else
			score_enter_vhost(0, 7, 0);
		_exit(0);
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0)
		return -2;
	pos = score_vhost_of(pid);
	waitpid(pid, NULL, 0);
	return pos;
}

int
main(void)
{
	CHECK("score init", score_init(4) == 0 && score_config(0) == 0);
	CHECK("score name from score_enter_vhost", vhost_of_child(NULL) == 7);
	CHECK("score name itkd 1/0", vhost_of_child("itkd 1/0") == 0);
	CHECK("score name itkd 1/99999", vhost_of_child("itkd 1/99999") == 99999);
	CHECK("score name without a position", vhost_of_child("itkd 1/") == -1);
	CHECK("score name without a generation", vhost_of_child("itkd /7") == -1);
	CHECK("score name with a sign", vhost_of_child("itkd 1/+7") == -1);
	CHECK("score name with a minus", vhost_of_child("itkd 1/-1") == -1);
	CHECK("score name with a blank", vhost_of_child("itkd 1/ 7") == -1);
	CHECK("score name past 5 digits", vhost_of_child("itkd 1/123456") == -1);
	CHECK("score name with a tail", vhost_of_child("itkd 1/7x") == -1);
	CHECK("score name of another generation", vhost_of_child("itkd 2/7") == -1);
	CHECK("score name of another program", vhost_of_child("sh") == -1);
	CHECK("score name too short", vhost_of_child("itk") == -1);
	/* After a reload, a child named under the old config tells nothing. */
	CHECK("score reload", score_config(0) == 0);
	CHECK("score name of the config before", vhost_of_child("itkd 1/7") == -1);
	CHECK("score name of this config", vhost_of_child(NULL) == 7);
	return UNIT_END();
}
