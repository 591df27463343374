/* yamltree.c - placeholder until the config layer lands. */
#include "config.h"
#include "yamltree.h"
