"""Small function-word lists (the most frequent words of each language).

The HTML boilerplate model, like jusText, tells prose from chrome by the share of stop words:
prose is full of them, menus and link lists are not. One union set serves all listed languages.
"""
from __future__ import annotations

STOPWORDS: dict[str, str] = {
    "en": "a about above after again all also am an and any are as at be because been before being "
          "below between both but by can could did do does doing down during each few for from "
          "further had has have having he her here hers him his how i if in into is it its itself "
          "just may me might more most must my no nor not now of off on once only or other our out "
          "over own same she should so some such than that the their them then there these they "
          "this those through to too under until up very was we were what when where which while "
          "who whom why will with would you your",
    "de": "aber alle als also am an auch auf aus bei bin bis bist da damit dann das dass dem den "
          "der des dich die dir doch du durch ein eine einem einen einer es für hat hatte ich ihr "
          "im in ist ja kann kein man mich mir mit nach nicht noch nur oder schon sehr sein sich "
          "sie sind so über um und uns unter vom von vor war was weil wenn wer wie wir wird wo zu "
          "zum zur",
    "fr": "à au aux avec ce ces cette dans de des du elle en est et été il ils je la le les leur "
          "lui mais me même mes moi mon ne nous on ou où par pas pour qu que qui sa se ses son "
          "sont sur ta te tes toi ton tu un une vos votre vous y été être avoir fait plus comme",
    "es": "a al algo como con de del desde donde el ella ellos en entre era es esa ese eso esta "
          "está este esto fue ha hay la las le les lo los más me mi muy no nos o para pero por "
          "que qué se sin sobre su sus también te tiene todo un una uno y ya son ser",
    "it": "a al alla anche che chi come con da dal del della delle dei di e è gli ha ho i il in "
          "io la le lo ma mi nel nella non o per più questo quella se si sono su sua suo tra un "
          "una uno",
    "pt": "a ao aos as com como da das de do dos e é ela ele em entre era essa esse esta este eu "
          "foi há isso já mais mas me muito na nas não no nos o os ou para pela pelo por que se "
          "sem ser seu sua são também um uma você",
    "nl": "aan al als bij dan dat de der deze die dit door een en er had heb het hij hoe ik in is "
          "je kan maar me met mij na naar niet nog nu of om ons ook op over te tot uit van voor "
          "was wat we wel wie wij zal ze zich zij zijn zo",
}

ALL_STOPWORDS: frozenset[str] = frozenset(w for ws in STOPWORDS.values() for w in ws.split())
