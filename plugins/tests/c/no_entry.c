/* Test-only: a shared library that is not a pcapx plugin (no entry symbol). */
int pcapx_unrelated_symbol = 1;
