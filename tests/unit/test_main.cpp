// The one Catch2 main for the unit tier; every other file only holds test cases.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
