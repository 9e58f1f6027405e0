"""Self-training CNN segmenters (Kanezaki 2018; Kim et al. 2020;
Guermazi, Ksantini & Khan, DynaSeg).

torch is imported only inside functions, so importing this package stays cheap.
"""
