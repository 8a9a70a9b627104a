#!/bin/sh
# A local redirect (RFC 3875 6.2.2): the server serves the path as a GET.
printf 'Location: /cgi-bin/query.cgi?from=redirect\n\n'
