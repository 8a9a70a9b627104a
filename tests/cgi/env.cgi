#!/bin/sh
# Every meta-variable the script was given, one NAME=value per line.
printf 'Content-Type: text/plain\r\n\r\n'
env
