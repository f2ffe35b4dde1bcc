// Compiles micro/loader.h on its own: it must include everything it uses.
#include "micro/loader.h"
