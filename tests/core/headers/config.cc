// Compiles micro/config.h on its own: it must include everything it uses.
#include "micro/config.h"
