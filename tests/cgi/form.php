<?php
header("Content-Type: text/plain");
echo "uid=" . posix_getuid() . "\n";
echo "name=" . ($_POST["name"] ?? "") . "\n";
echo "method=" . $_SERVER["REQUEST_METHOD"] . "\n";
