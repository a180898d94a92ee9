import pytest

from credsignal.reference.degrees import degree_level, has_degree


@pytest.mark.parametrize(
    "text, level",
    [
        # The paper's own keywords (appendix B.4).
        ("Master of Science", "master"), ("MSc Data Science", "master"), ("Maestría en Finanzas", "master"),
        ("MA Economics", "master"), ("BSc Physics", "bachelor"), ("BS in Biology", "bachelor"),
        ("Bachillerato", "bachelor"), ("Bachelor of Arts", "bachelor"), ("Doctor of Philosophy", "doctor"),
        ("Doutorado em Física", "doctor"), ("Docteur en Sciences", "doctor"),
        # Equivalents.
        ("Mestrado em Engenharia", "master"), ("Mestre", "master"), ("MBA", "master"), ("M.Tech", "master"),
        ("M.Sc.", "master"), ("M.S. Statistics", "master"), ("MS", "master"), ("M.E. Civil", "master"),
        ("Máster en Big Data", "master"), ("Magíster", "master"), ("Maîtrise", "master"), ("Master's degree", "master"),
        ("Bacharelado em Direito", "bachelor"), ("Bacharel", "bachelor"), ("Licenciatura", "bachelor"),
        ("Licenciado en Economía", "bachelor"), ("Licence Informatique", "bachelor"), ("B.Tech", "bachelor"),
        ("BTech", "bachelor"), ("B.E.", "bachelor"), ("BE Mechanical", "bachelor"), ("B.A.", "bachelor"),
        ("BA History", "bachelor"), ("B.Com", "bachelor"), ("BCA", "bachelor"), ("Graduação em Administração", "bachelor"),
        ("Tecnólogo em Redes", "bachelor"), ("PhD", "doctor"), ("Ph.D.", "doctor"), ("Doctorado", "doctor"),
        ("Doctorat", "doctor"), ("DPhil", "doctor"), ("بكالوريوس", "bachelor"), ("ماجستير", "master"), ("دكتوراه", "doctor"),
        # Case, accents, misspellings.
        ("MASTER OF SCIENCE", "master"), ("maestria", "master"), ("Bachelr of Science", "bachelor"), ("Mestado", "master"),
    ],
)
def test_degree_levels(text, level):
    assert degree_level(text) == level


@pytest.mark.parametrize(
    "text, level",
    [("Integrated BS/MS", "master"), ("Bachelor's and Master's", "master"), ("PhD candidate; MSc", "doctor"),
     ("MBA, BSc", "master"), ("Laurea Magistrale", "master")],
)
def test_highest_level_wins(text, level):
    assert degree_level(text) == level


@pytest.mark.parametrize(
    "text",
    ["Mathematics", "Business", "Business Administration", "Jobs", "Jobs Training Program", "Master Chef",
     "Certified Scrum Master", "MS Office Specialist", "Masterclass", "Diploma", "High School Diploma", "Ensino Médio",
     "Ciclo de Grado Medio", "Maestra de Primaria", "Mathématiques", "Bac S", "to be completed", "Computer Science",
     None, "", "   "],
)
def test_hard_negatives(text):
    assert degree_level(text) == "none"
    assert not has_degree(text)
