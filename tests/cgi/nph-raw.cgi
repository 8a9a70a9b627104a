#!/bin/sh
# nph-: the script writes the whole HTTP answer itself.
printf 'HTTP/1.1 203 Non-Authoritative\r\nContent-Type: text/plain\r\nX-Nph: 1\r\n\r\nnph body\n'
