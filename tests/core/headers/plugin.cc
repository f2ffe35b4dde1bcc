// Compiles micro/plugin.h on its own: it must include everything it uses.
#include "micro/plugin.h"
