// Compiles micro/transport.h on its own: it must include everything it uses.
#include "micro/transport.h"
