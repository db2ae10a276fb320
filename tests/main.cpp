// tests/main.cpp — the single doctest main of the suite. Test files include only doctest.h.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
