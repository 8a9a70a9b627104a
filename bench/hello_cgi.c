/* hello.cgi: the CGI program both servers run in the benchmark. A static
 * binary, so the figures measure the server's fork and exec, not a shell. */
#include <stdio.h>

int main(void)
{
	fputs("Content-Type: text/plain\r\n\r\nhello from a CGI program\n", stdout);
	return 0;
}
