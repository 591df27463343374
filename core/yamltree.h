/* yamltree.h - placeholder until the config layer lands. */
#ifndef VKDR_CORE_YAMLTREE_H
#define VKDR_CORE_YAMLTREE_H
#endif
