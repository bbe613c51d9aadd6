from dreamer_sb3.planet.planet import PlaNet, PlanetPolicy

__all__ = ["PlaNet", "PlanetPolicy"]
