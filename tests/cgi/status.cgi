#!/bin/sh
printf 'Status: 418 I am a teapot\nContent-Type: text/plain\nX-Script: yes\n\nteapot\n'
